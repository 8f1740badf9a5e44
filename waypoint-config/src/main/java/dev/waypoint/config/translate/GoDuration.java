package dev.waypoint.config.translate;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A protobuf {@code Duration} field as Istio reads it from YAML. istiod decodes its CRDs with the
 * legacy jsonpb, which hands a Duration's string to Go's {@code time.ParseDuration}: a sequence of
 * decimal numbers, each with a unit ({@code ns}, {@code us}, {@code µs}, {@code ms}, {@code s},
 * {@code m}, {@code h}), such as {@code 5s}, {@code 1.5s}, {@code 500ms}, {@code 1m30s} or
 * {@code 1h0m0s}; {@code 0} alone is zero. The protobuf JSON form ({@code 1.5s}) is one of them.
 * A sign is not accepted: none of the fields read this way may be negative.
 */
final class GoDuration {
    private static final String NUMBER = "(?:\\d+(?:\\.\\d*)?|\\.\\d+)";
    private static final String UNIT = "(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h)";
    private static final Pattern WHOLE = Pattern.compile("\\+?(?:" + NUMBER + UNIT + ")+");
    private static final Pattern PART = Pattern.compile("(" + NUMBER + ")(" + UNIT + ")");
    private static final BigDecimal MAX_NANOS = BigDecimal.valueOf(Long.MAX_VALUE);

    private GoDuration() {}

    /** The duration {@code text} denotes, or null when it is not one (or overflows, as Go refuses it). */
    static Duration parse(String text) {
        if (text == null) {
            return null;
        }
        if (text.equals("0") || text.equals("+0")) {
            return Duration.ZERO;
        }
        if (!WHOLE.matcher(text).matches()) {
            return null;
        }
        BigDecimal nanos = BigDecimal.ZERO;
        Matcher m = PART.matcher(text);
        while (m.find()) {
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us", "\u00b5s", "\u03bcs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos = nanos.add(new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)));
        }
        if (nanos.compareTo(MAX_NANOS) > 0) {
            return null;
        }
        return Duration.ofNanos(nanos.longValue()); // Go truncates below a nanosecond too
    }
}
