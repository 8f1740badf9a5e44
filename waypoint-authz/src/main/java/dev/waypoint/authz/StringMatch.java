package dev.waypoint.authz;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Istio's string value forms (shared/spec/authz.md §3): "exact, {@code abc*} prefix, {@code *abc}
 * suffix, {@code *} presence (non-empty)", optionally case-insensitive ({@code hosts}), or a
 * regex built by the compiler (namespaces, service accounts, path templates). Pre-built; testing
 * a value allocates nothing.
 */
final class StringMatch {
    enum Kind { EXACT, PREFIX, SUFFIX, PRESENT, CONTAINS, TEMPLATE, REGEX }

    private final Kind kind;
    private final String value;
    private final boolean ignoreCase;
    private final Pattern regex;
    /** TEMPLATE: literal pieces and {@code null} for a {@code {*}} segment, up to a {@code {**}}. */
    private final String[] head;
    /** TEMPLATE: whether a {@code {**}} follows {@link #head}; then {@link #value} is the literal after it. */
    private final boolean rest;
    /** TEMPLATE: the template as written. */
    private final String text;

    private StringMatch(Kind kind, String value, boolean ignoreCase, Pattern regex) {
        this(kind, value, ignoreCase, regex, null, false, null);
    }

    private StringMatch(Kind kind, String value, boolean ignoreCase, Pattern regex, String[] head, boolean rest,
                        String text) {
        this.text = text;
        this.kind = kind;
        this.value = value;
        this.ignoreCase = ignoreCase;
        this.regex = regex;
        this.head = head;
        this.rest = rest;
    }

    /** Contains {@code v}: the regex {@code .*v.*} without a regex (Istio's namespace match). */
    static StringMatch contains(String v) {
        return new StringMatch(Kind.CONTAINS, v, false, null);
    }

    /**
     * A path template already validated by the compiler: {@code head} are literal pieces and
     * {@code null} for {@code {*}} ("exactly one non-empty segment"); {@code rest} says a
     * {@code {**}} ("anything incl. /") follows, then the literal {@code tail}. Matched without a
     * regex: a {@code {*}} is always followed by {@code /} or the end, so it takes up to the next
     * {@code /}; the {@code {**}} is the last operator, so what follows it is a literal suffix.
     */
    static StringMatch template(String[] head, boolean rest, String tail, String text) {
        return new StringMatch(Kind.TEMPLATE, tail, false, null, head.clone(), rest, text);
    }

    /** Istio's {@code StringMatcher} rules for a policy value: {@code *}, {@code x*}, {@code *x}, else exact. */
    static StringMatch of(String v, boolean ignoreCase) {
        Objects.requireNonNull(v, "v");
        if (v.equals("*")) {
            return new StringMatch(Kind.PRESENT, "", ignoreCase, null);
        }
        if (v.startsWith("*")) {
            return new StringMatch(Kind.SUFFIX, v.substring(1), ignoreCase, null);
        }
        if (v.endsWith("*")) {
            return new StringMatch(Kind.PREFIX, v.substring(0, v.length() - 1), ignoreCase, null);
        }
        return new StringMatch(Kind.EXACT, v, ignoreCase, null);
    }

    /** Exact and case-sensitive, whatever the value holds. */
    static StringMatch exact(String v) {
        return new StringMatch(Kind.EXACT, v, false, null);
    }

    /** With a prefix: Istio's {@code spiffe://} principals: {@code *} → {@code .+}, {@code a*} → prefix {@code spiffe://a}. */
    static StringMatch prefixed(String prefix, String v) {
        if (v.equals("*")) {
            return regex(".+");
        }
        if (v.startsWith("*")) {
            // Istio StringMatcherWithPrefix: regex prefix + ".*" + QuoteMeta(rest)
            return regex(Pattern.quote(prefix) + ".*" + Pattern.quote(v.substring(1)));
        }
        if (v.endsWith("*")) {
            return new StringMatch(Kind.PREFIX, prefix + v.substring(0, v.length() - 1), false, null);
        }
        return new StringMatch(Kind.EXACT, prefix + v, false, null);
    }

    /** A full-match regex. */
    static StringMatch regex(String regex) {
        return new StringMatch(Kind.REGEX, regex, false, Pattern.compile(regex, Pattern.DOTALL));
    }

    /** Whether {@code s} matches; a missing value (null) never does. */
    boolean test(String s) {
        return s != null && test(s, s.length());
    }

    /** Whether {@code s.substring(0, end)} matches, without taking the substring (paths without their query). */
    boolean test(String s, int end) {
        if (s == null) {
            return false;
        }
        return switch (kind) {
            case EXACT -> end == value.length() && s.regionMatches(ignoreCase, 0, value, 0, end);
            case PREFIX -> end >= value.length() && s.regionMatches(ignoreCase, 0, value, 0, value.length());
            case SUFFIX -> end >= value.length() && s.regionMatches(ignoreCase, end - value.length(), value, 0, value.length());
            case PRESENT -> end > 0;
            case CONTAINS -> indexOf(s, end) >= 0;
            case TEMPLATE -> template(s, end);
            case REGEX -> regex.matcher(end == s.length() ? s : s.subSequence(0, end)).matches();
        };
    }

    private int indexOf(String s, int end) {
        int i = s.indexOf(value);
        return i >= 0 && i + value.length() <= end ? i : -1;
    }

    private boolean template(String s, int end) {
        int pos = 0;
        for (String piece : head) {
            if (piece == null) {
                int seg = pos;
                while (seg < end && s.charAt(seg) != '/') {
                    seg++;
                }
                if (seg == pos) {
                    return false; // {*} is one non-empty segment
                }
                pos = seg;
            } else {
                if (end - pos < piece.length() || !s.regionMatches(pos, piece, 0, piece.length())) {
                    return false;
                }
                pos += piece.length();
            }
        }
        if (!rest) {
            return pos == end;
        }
        return end - pos >= value.length() && s.regionMatches(end - value.length(), value, 0, value.length());
    }

    @Override
    public String toString() {
        return switch (kind) {
            case EXACT -> "exact(" + value + ")";
            case PREFIX -> "prefix(" + value + ")";
            case SUFFIX -> "suffix(" + value + ")";
            case PRESENT -> "present";
            case CONTAINS -> "contains(" + value + ")";
            case TEMPLATE -> "template(" + text + ")";
            case REGEX -> "regex(" + value + ")";
        } + (ignoreCase ? "i" : "");
    }
}
