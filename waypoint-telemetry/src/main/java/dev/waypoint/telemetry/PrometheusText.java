package dev.waypoint.telemetry;

import java.util.Arrays;

/**
 * The pieces of Prometheus' text exposition format 0.0.4 ("Exposition formats", prometheus.io):
 * label blocks, escaping and sample values. Pure.
 *
 * <ul>
 *   <li>"label_value can be any sequence of UTF-8 characters, but the backslash ({@code \}),
 *       double-quote ({@code "}), and line feed ({@code \n}) characters have to be escaped as
 *       {@code \\}, {@code \"}, and {@code \n}, respectively."</li>
 *   <li>HELP: "backslash and line feed characters have to be escaped as {@code \\} and
 *       {@code \n}".</li>
 *   <li>Values are Go {@code ParseFloat} numbers, {@code +Inf}, {@code -Inf}, {@code NaN}. Ours
 *       are written as Micrometer's Prometheus registry wrote them before (Java's
 *       {@code Double.toString} for counters, sums and {@code le}; integers for bucket counts and
 *       {@code _count}), so scrapes and golden files read the same across the change.</li>
 * </ul>
 */
final class PrometheusText {
    private PrometheusText() {}

    /**
     * Whether {@code name} is a label name Prometheus accepts: {@code [a-zA-Z_][a-zA-Z0-9_]*}, and
     * not one of the names "beginning with {@code __}" that are "reserved for internal use".
     */
    static boolean validLabelName(String name) {
        if (name == null || name.isEmpty() || name.startsWith("__")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean letter = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_';
            if (!letter && (i == 0 || c < '0' || c > '9')) {
                return false;
            }
        }
        return true;
    }

    /** Appends {@code value} escaped as a label value ({@code \\}, {@code \"}, {@code \n}). */
    static StringBuilder escapeLabelValue(StringBuilder b, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '"' -> b.append("\\\"");
                case '\n' -> b.append("\\n");
                default -> b.append(c);
            }
        }
        return b;
    }

    /** {@code text} escaped for a {@code # HELP} line ({@code \\}, {@code \n}). */
    static String escapeHelp(String text) {
        return text.replace("\\", "\\\\").replace("\n", "\\n");
    }

    /**
     * The label block between the braces, {@code a="1",b="2"}, labels sorted by name (as
     * Micrometer wrote them; Prometheus does not mind the order); empty for no labels. One label
     * set renders to exactly one string, so the string identifies the series.
     *
     * @param names label names, valid ({@link #validLabelName}) and distinct
     * @param values their values, same length
     */
    static String labels(String[] names, String[] values) {
        Integer[] order = new Integer[names.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> names[x].compareTo(names[y]));
        String[] n = new String[names.length];
        String[] v = new String[names.length];
        for (int k = 0; k < order.length; k++) {
            n[k] = names[order[k]];
            v[k] = values[order[k]];
        }
        return sortedLabels(n, v);
    }

    /** As {@link #labels}, for names already sorted (a {@link LabelPlan}'s): no sort, one right-sized buffer. */
    static String sortedLabels(String[] names, String[] values) {
        int length = 0;
        for (int i = 0; i < names.length; i++) {
            length += names[i].length() + values[i].length() + 4;
        }
        StringBuilder b = new StringBuilder(length + 8);
        for (int i = 0; i < names.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(names[i]).append("=\"");
            escapeLabelValue(b, values[i]).append('"');
        }
        return b.toString();
    }

    /** A float sample value: {@code +Inf}, {@code -Inf}, {@code NaN} or Java's {@code Double.toString}. */
    static String number(double v) {
        if (v == Double.POSITIVE_INFINITY) {
            return "+Inf";
        }
        if (v == Double.NEGATIVE_INFINITY) {
            return "-Inf";
        }
        return Double.toString(v);
    }
}
