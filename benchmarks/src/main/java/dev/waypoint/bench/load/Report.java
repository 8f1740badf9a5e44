package dev.waypoint.bench.load;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The result of one run, as printed ({@link #toText()}) or written as JSON ({@link #toJson()}).
 *
 * @param mode {@code fixed} (fixed rate, latency from the scheduled send time: corrected for
 *        coordinated omission), {@code closed} (closed loop, latency from the actual send) or
 *        {@code bulk}
 * @param windowSeconds length of the measured window
 * @param requests 2xx responses completed in the window
 * @param errors errors in the window by kind: {@code connect_refused}, {@code tls},
 *        {@code connect_status_<code>} (CONNECT answered non-200), {@code http_<code>} (inner
 *        status not 2xx), {@code reset} (stream reset mid-request), {@code closed} (tunnel or
 *        connection closed mid-request), {@code timeout}
 * @param incomplete requests still in flight when the window closed (not counted anywhere else)
 * @param tunnelsOpened CONNECTs answered 200 over the whole run (more than connections x tunnels:
 *        tunnels were closed and reopened, e.g. by the server ending them)
 * @param processes CPU and memory of the watched processes over the window
 * @param otherVcpu CPU used over the window by every process not watched (nor this tool), in vCPU,
 *        or null if unknown: what else was running (other builds may share the machine); a lower
 *        bound (processes that exit within the window are missed)
 * @param timeline per second since the start (warmup included): completions and the highest
 *        latency among them; shows stalls that percentiles average away (bulk: reads per second)
 */
public record Report(String label, String mode, String target, String authority, String inner, int connections,
                     int tunnels, int rate, int bodyBytes, double warmupSeconds, double windowSeconds, long requests,
                     double rps, Latency latencyMs, Map<String, Long> errors, long errorsOutsideWindow, long incomplete,
                     long tunnelsOpened,
                     Bulk bulk, List<Proc> processes, Double otherVcpu, List<Second> timeline) {

    /** Latency percentiles in milliseconds. */
    public record Latency(long count, double p50, double p90, double p99, double p999, double max, double mean) {}

    /** One second of the run: 2xx responses completed in it and their highest latency. */
    public record Second(int second, long completed, double maxLatencyMs) {}

    /** One-tunnel byte stream result. */
    public record Bulk(String mode, long bytes, double mibPerSecond) {}

    /**
     * A watched process over the window.
     *
     * @param vcpu CPU seconds / window seconds
     * @param vcpuPerKrps vcpu per 1000 requests per second achieved (null for bulk runs)
     * @param rssKib VmRSS at the end of the window
     * @param hwmKib VmHWM (peak RSS) at the end of the window
     */
    public record Proc(String label, long pid, double cpuSeconds, double vcpu, Double vcpuPerKrps, long rssKib,
                       long hwmKib) {}

    /** Total errors in the window. */
    public long errorCount() {
        return errors.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Reports written by older versions of the tool (other fields) still read. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Report fromJson(String json) {
        try {
            return JSON.readValue(json, Report.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a load report: " + e.getMessage(), e);
        }
    }

    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s: %s, target %s, CONNECT %s, %s, %d conn x %d tunnels%n", label, mode,
                target, authority, inner, connections, tunnels));
        b.append(String.format(Locale.ROOT, "  window %.1f s (after %.1f s warmup)%n", windowSeconds, warmupSeconds));
        if (bulk != null) {
            b.append(String.format(Locale.ROOT, "  bulk %s: %d bytes, %.1f MiB/s%n", bulk.mode(), bulk.bytes(),
                    bulk.mibPerSecond()));
        } else {
            b.append(String.format(Locale.ROOT, "  requests %d, %.1f req/s%s, body %d B%n", requests, rps,
                    rate > 0 ? " (target " + rate + ")" : " (closed loop)", bodyBytes));
            b.append(String.format(Locale.ROOT, "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f%s%n",
                    latencyMs.p50(), latencyMs.p90(), latencyMs.p99(), latencyMs.p999(), latencyMs.max(), latencyMs.mean(),
                    rate > 0 ? "  (from scheduled send times)" : ""));
        }
        b.append("  errors: ").append(errors.isEmpty() ? "none" : errors.toString());
        if (errorsOutsideWindow > 0) {
            b.append(" (+").append(errorsOutsideWindow).append(" outside the window)");
        }
        if (incomplete > 0) {
            b.append(", ").append(incomplete).append(" in flight at the end");
        }
        b.append("; tunnels opened ").append(tunnelsOpened);
        b.append('\n');
        if (bulk == null && timeline != null) {
            StringBuilder stalls = new StringBuilder();
            for (Second s : timeline) {
                if (s.maxLatencyMs() >= 100) {
                    stalls.append(String.format(Locale.ROOT, " %ds:%.0fms/%d", s.second(), s.maxLatencyMs(), s.completed()));
                }
            }
            if (stalls.length() > 0) {
                b.append("  seconds with a response >= 100 ms (second:max/completed):").append(stalls).append('\n');
            }
        }
        if (otherVcpu != null) {
            b.append(String.format(Locale.ROOT, "  other processes on the machine: >= %.2f vCPU%n", otherVcpu));
        }
        for (Proc p : processes) {
            b.append(String.format(Locale.ROOT, "  %s (pid %d): cpu %.2f s = %.3f vCPU%s, RSS %.1f MiB (peak %.1f MiB)%n",
                    p.label(), p.pid(), p.cpuSeconds(), p.vcpu(),
                    p.vcpuPerKrps() == null ? "" : String.format(Locale.ROOT, " = %.3f vCPU per 1000 req/s", p.vcpuPerKrps()),
                    p.rssKib() / 1024.0, p.hwmKib() / 1024.0));
        }
        return b.toString();
    }
}
