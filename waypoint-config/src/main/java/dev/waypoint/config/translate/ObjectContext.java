package dev.waypoint.config.translate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed, reporting readers over one wire object's tree. Every reader takes the parent node, the
 * parent's field path and the key, so that a problem names the full path
 * ({@code spec.ports[1].port}) and an Armeria-style message ({@code "port: 0 (expected: 1-65535)"}).
 * A reader that finds a bad value records an error (which rejects the object) and returns null or
 * an empty value, so translation goes on and reports every problem of the object at once.
 *
 * <p>Absent and explicit {@code null} mean the same thing, as they do for the API server.
 *
 * <h2>Threading</h2>
 * One instance per object, on the config thread.
 */
final class ObjectContext {
    static final String PORT_RANGE = "1-65535";
    static final String DNS1123_SUBDOMAIN = "a DNS-1123 name: lowercase alphanumerics, '-' or '.'";
    static final String DNS1123_LABEL = "a DNS-1123 label: lowercase alphanumerics or '-'";
    static final String IP = "an IPv4 or IPv6 literal";

    // k8s.io/apimachinery validation: IsDNS1123Subdomain / IsDNS1123Label / IsValidPortName, whose
    // expressions are [a-z0-9]([-a-z0-9]*[a-z0-9])? for a label and labels joined by '.' for a
    // subdomain; matched by hand below (run for every object's name: a Matcher each was a visible
    // share of a 20,000-object load, issue 17), checked against the expressions in ObjectContextTest.
    private static final int MAX_RENDERED = 80;

    private final Diagnostics diagnostics;
    private final SourceRef source;
    private final String kind;
    private NamespacedName name;
    private boolean failed;

    ObjectContext(Diagnostics diagnostics, SourceRef source, String kind) {
        this.diagnostics = diagnostics;
        this.source = source;
        this.kind = kind;
    }

    SourceRef source() {
        return source;
    }

    /** Sets the name problems are reported under, once it is known. */
    void name(NamespacedName name) {
        this.name = name;
    }

    NamespacedName name() {
        return name;
    }

    /** Whether an error was reported: the object must be dropped. */
    boolean failed() {
        return failed;
    }

    void error(String field, String message) {
        failed = true;
        diagnostics.error(source, kind, name, field, message);
    }

    void warning(String field, String message) {
        diagnostics.warning(source, kind, name, field, message);
    }

    void note(String field, String message) {
        diagnostics.note(source, kind, name, field, message);
    }

    /**
     * Reports every key of {@code node} that is not in {@code known}, at {@code path.key}: a
     * misspelled policy field must not silently widen or narrow what the policy says.
     */
    void unknownKeys(JsonNode node, String path, java.util.Set<String> known) {
        if (node == null || !node.isObject()) {
            return;
        }
        node.fieldNames().forEachRemaining(k -> {
            if (!known.contains(k)) {
                error(path(path, k), message(k, "unknown field", "one of " + String.join(", ", new java.util.TreeSet<>(known))));
            }
        });
    }

    /** A list of non-empty strings; empty when absent; each bad element reported at its index. */
    List<String> stringList(JsonNode parent, String parentPath, String key) {
        List<JsonNode> nodes = list(parent, parentPath, key);
        if (nodes.isEmpty()) {
            return List.of();
        }
        String p = path(parentPath, key);
        List<String> out = new ArrayList<>(nodes.size());
        for (int i = 0; i < nodes.size(); i++) {
            JsonNode n = nodes.get(i);
            if (!n.isTextual() || n.textValue().isEmpty()) {
                error(index(p, i), message(key + "[" + i + "]", renderJson(n), stringExpected(n, "a non-empty string")));
            } else {
                out.add(n.textValue());
            }
        }
        return out;
    }

    // ---- paths and messages

    static String path(String parent, String key) {
        boolean plain = true;
        for (int i = 0; i < key.length() && plain; i++) {
            char c = key.charAt(i);
            plain = Character.isLetterOrDigit(c) || c == '_' || c == '-';
        }
        if (!plain) {
            return parent + "['" + key + "']";
        }
        return parent.isEmpty() ? key : parent + "." + key;
    }

    static String index(String path, int i) {
        return path + "[" + i + "]";
    }

    /** Armeria's template: {@code "port: 0 (expected: 1-65535)"}. */
    static String message(String leaf, String value, String expected) {
        return leaf + ": " + value + " (expected: " + expected + ")";
    }

    /** A value as the user wrote it; strings unquoted. */
    static String render(JsonNode node) {
        return clip(node.isTextual() ? node.textValue() : node.toString());
    }

    /** A value in JSON form, so that {@code "80"} is told apart from {@code 80}. */
    static String renderJson(JsonNode node) {
        return clip(node.toString());
    }

    /**
     * {@code expected}, and when YAML read the value as a number or a boolean, why: {@code port: 8080}
     * where the API wants {@code "8080"}, {@code version: 1} as a label, {@code enabled: yes}. The
     * API server refuses these too (a string field takes no number); the hint says to quote them.
     */
    static String stringExpected(JsonNode n, String expected) {
        if (n.isNumber()) {
            return expected + "; " + n + " unquoted is a number in YAML: quote it";
        }
        if (n.isBoolean()) {
            return expected + "; " + n + " unquoted is a boolean in YAML (as are yes, no, on and off): quote it";
        }
        return expected;
    }

    private static String clip(String s) {
        return s.length() <= MAX_RENDERED ? s : s.substring(0, MAX_RENDERED) + "...";
    }

    static boolean isSubdomain(String s) {
        if (s.length() > 253) {
            return false;
        }
        int start = 0;
        while (true) {
            int dot = s.indexOf('.', start);
            int end = dot < 0 ? s.length() : dot;
            if (!labelAt(s, start, end)) {
                return false;
            }
            if (dot < 0) {
                return true;
            }
            start = dot + 1;
        }
    }

    static boolean isLabel(String s) {
        return s.length() <= 63 && labelAt(s, 0, s.length());
    }

    /** Whether {@code s[start, end)} is {@code [a-z0-9]([-a-z0-9]*[a-z0-9])?}. */
    private static boolean labelAt(String s, int start, int end) {
        if (end <= start || !lowerAlnum(s.charAt(start)) || !lowerAlnum(s.charAt(end - 1))) {
            return false;
        }
        for (int i = start + 1; i < end - 1; i++) {
            char c = s.charAt(i);
            if (c != '-' && !lowerAlnum(c)) {
                return false;
            }
        }
        return true;
    }

    private static boolean lowerAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }

    /**
     * A label key (k8s {@code IsQualifiedName}): an optional DNS subdomain prefix and {@code /}, then
     * a name of 1-63 characters {@code [A-Za-z0-9_.-]} that starts and ends alphanumeric.
     */
    static boolean isLabelKey(String s) {
        int slash = s.indexOf('/');
        if (slash >= 0 && !isSubdomain(s.substring(0, slash))) {
            return false;
        }
        String name = s.substring(slash + 1);
        return !name.isEmpty() && isLabelValue(name);
    }

    /** A label value (k8s {@code IsValidLabelValue}): empty, or a label key's name part. */
    static boolean isLabelValue(String s) {
        if (s.length() > 63) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            boolean edge = i == 0 || i == s.length() - 1;
            if (!alnum && (edge || (c != '-' && c != '_' && c != '.'))) {
                return false;
            }
        }
        return true;
    }

    /** IANA_SVC_NAME: at most 15 characters, at least one letter (k8s {@code IsValidPortName}). */
    static boolean isPortName(String s) {
        return s.length() <= 15 && labelAt(s, 0, s.length()) && s.chars().anyMatch(Character::isLetter)
                && !s.contains("--");
    }

    // ---- readers

    /** The child, or null when absent or {@code null}. */
    static JsonNode child(JsonNode parent, String key) {
        if (parent == null) {
            return null;
        }
        JsonNode n = parent.get(key);
        return n == null || n.isNull() ? null : n;
    }

    /** An object child, or null when absent or not an object (then reported). */
    JsonNode object(JsonNode parent, String parentPath, String key) {
        JsonNode n = child(parent, key);
        if (n != null && !n.isObject()) {
            error(path(parentPath, key), message(key, render(n), "an object"));
            return null;
        }
        return n;
    }

    /** The elements of a list child; empty when absent or not a list (then reported). */
    List<JsonNode> list(JsonNode parent, String parentPath, String key) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return List.of();
        }
        if (!n.isArray()) {
            error(path(parentPath, key), message(key, render(n), "a list"));
            return List.of();
        }
        List<JsonNode> out = new ArrayList<>(n.size());
        n.forEach(out::add);
        return out;
    }

    /** The element at {@code path} if it is an object, else null (reported). */
    JsonNode element(JsonNode node, String path, String leaf) {
        if (node == null || !node.isObject()) {
            error(path, message(leaf, node == null ? "null" : render(node), "an object"));
            return null;
        }
        return node;
    }

    /** An optional string child: null when absent; reported and null when not a string. */
    String string(JsonNode parent, String parentPath, String key) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return null;
        }
        if (!n.isTextual()) {
            error(path(parentPath, key), message(key, renderJson(n), stringExpected(n, "a string")));
            return null;
        }
        return n.textValue();
    }

    /** A required string child; {@code expected} describes it in the message. */
    String requiredString(JsonNode parent, String parentPath, String key, String expected) {
        JsonNode n = child(parent, key);
        if (n == null) {
            error(path(parentPath, key), message(key, "missing", expected));
            return null;
        }
        if (!n.isTextual() || n.textValue().isEmpty()) {
            error(path(parentPath, key), message(key, renderJson(n), expected));
            return null;
        }
        return n.textValue();
    }

    /** An optional boolean child, {@code dflt} when absent. */
    boolean bool(JsonNode parent, String parentPath, String key, boolean dflt) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return dflt;
        }
        if (!n.isBoolean()) {
            error(path(parentPath, key), message(key, renderJson(n), "true or false"));
            return dflt;
        }
        return n.booleanValue();
    }

    /** A required port number child (1-65535); 0 when missing or bad (reported). */
    int port(JsonNode parent, String parentPath, String key) {
        JsonNode n = child(parent, key);
        if (n == null) {
            error(path(parentPath, key), message(key, "missing", PORT_RANGE));
            return 0;
        }
        return portValue(n, path(parentPath, key), key, PORT_RANGE);
    }

    /** Checks a node holding a port number; 0 when bad (reported). */
    int portValue(JsonNode n, String path, String leaf, String expected) {
        if (!n.isIntegralNumber()) {
            error(path, message(leaf, renderJson(n), expected));
            return 0;
        }
        if (!n.canConvertToInt() || n.intValue() < 1 || n.intValue() > 65535) {
            error(path, message(leaf, render(n), expected));
            return 0;
        }
        return n.intValue();
    }

    /**
     * A map of strings ({@code labels}, {@code selector}, {@code matchLabels}): empty when absent;
     * each non-string value is reported at its own path.
     */
    Map<String, String> stringMap(JsonNode parent, String parentPath, String key) {
        JsonNode n = object(parent, parentPath, key);
        if (n == null) {
            return Map.of();
        }
        String mapPath = path(parentPath, key);
        Map<String, String> out = new LinkedHashMap<>();
        n.properties().forEach(e -> {
            JsonNode v = e.getValue();
            if (v.isTextual()) {
                out.put(e.getKey(), v.textValue());
            } else {
                // a YAML "version: 1" or "enabled: true" is the classic mistake: the API server rejects it too
                error(path(mapPath, e.getKey()), message(e.getKey(), renderJson(v), stringExpected(v, "a string")));
            }
        });
        return out;
    }

    /**
     * Reports every field of {@code node} not in {@code known}: a field this waypoint does not
     * read could change what the object means (a newer API feature), so it rejects the object
     * rather than be silently dropped.
     */
    void knownFields(JsonNode node, String nodePath, java.util.Set<String> known) {
        if (node == null || !node.isObject()) {
            return;
        }
        node.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                error(path(nodePath, f), message(f, "unknown field", "one of " + String.join(", ", new java.util.TreeSet<>(known))));
            }
        });
    }

    /** An optional integer child within {@code [min, max]}; {@code dflt} when absent, reported and {@code dflt} when bad. */
    int integer(JsonNode parent, String parentPath, String key, int min, int max, int dflt) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < min || n.intValue() > max) {
            error(path(parentPath, key), message(key, renderJson(n), min + "-" + max));
            return dflt;
        }
        return n.intValue();
    }

    /** Parses an IP literal held by {@code n}; null when bad (reported). */
    InetAddress ip(JsonNode n, String path, String leaf) {
        if (!n.isTextual()) {
            error(path, message(leaf, renderJson(n), IP));
            return null;
        }
        try {
            return HostPort.parseIp(n.textValue());
        } catch (IllegalArgumentException e) {
            error(path, message(leaf, n.textValue(), IP));
            return null;
        }
    }
}
