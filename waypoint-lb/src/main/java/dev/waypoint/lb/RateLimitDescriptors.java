package dev.waypoint.lb;

import dev.waypoint.model.traffic.LocalRateLimitSpec.Action;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Descriptor;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Entry;
import dev.waypoint.model.traffic.LocalRateLimitSpec.HeaderMatch;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/**
 * Envoy's rate limit descriptors, as pure functions: a request's descriptors from a
 * LocalRateLimit's {@code rate_limits} actions ({@link #evaluate}), and the configured
 * {@code descriptors} they match ({@link #matched}); {@link LocalRateLimitFilter} takes the tokens.
 */
final class RateLimitDescriptors {
    private RateLimitDescriptors() {}

    /**
     * One descriptor per {@code rate_limits} entry whose actions all produce an entry (Envoy: an
     * action that cannot, such as {@code request_headers} of an absent header, drops that whole
     * descriptor; {@code skip_if_absent} only drops the entry).
     *
     * @param header a request header's value by lower-case name (pseudo-headers {@code :path},
     *        {@code :method}, {@code :authority} included), or null
     * @param remoteIp the client's IP, or null when unknown
     */
    static List<List<Entry>> evaluate(List<List<Action>> rateLimits, Function<String, String> header, String remoteIp) {
        List<List<Entry>> out = new ArrayList<>(rateLimits.size());
        next:
        for (List<Action> actions : rateLimits) {
            List<Entry> entries = new ArrayList<>(actions.size());
            for (Action a : actions) {
                if (a instanceof Action.RequestHeaders r) {
                    String v = header.apply(r.headerName());
                    if (v == null) {
                        if (r.skipIfAbsent()) {
                            continue;
                        }
                        continue next;
                    }
                    entries.add(new Entry(r.descriptorKey(), v));
                } else if (a instanceof Action.GenericKey g) {
                    entries.add(new Entry(g.descriptorKey(), g.descriptorValue()));
                } else if (a instanceof Action.RemoteAddress) {
                    if (remoteIp == null) {
                        continue next;
                    }
                    entries.add(new Entry("remote_address", remoteIp));
                } else if (a instanceof Action.HeaderValueMatch m) {
                    if (matchesAll(m.headers(), header) != m.expectMatch()) {
                        continue next;
                    }
                    entries.add(new Entry(m.descriptorKey(), m.descriptorValue()));
                }
            }
            if (!entries.isEmpty()) {
                out.add(List.copyOf(entries));
            }
        }
        return out;
    }

    /**
     * The configured descriptors whose entries equal one of the request's, each once, most
     * restrictive (fewest tokens per second) first, as Envoy's local rate limiter orders them.
     */
    static List<Descriptor> matched(List<Descriptor> configured, List<List<Entry>> request) {
        List<Descriptor> out = new ArrayList<>(2);
        for (Descriptor d : configured) {
            if (request.contains(d.entries())) {
                out.add(d);
            }
        }
        if (out.size() > 1) {
            out.sort(Comparator.comparingDouble(d -> (double) d.tokensPerFill() / d.fillInterval().toNanos()));
        }
        return out;
    }

    private static boolean matchesAll(List<HeaderMatch> matchers, Function<String, String> header) {
        for (HeaderMatch m : matchers) {
            String v = header.apply(m.name());
            boolean hit = switch (m.kind()) {
                case "present" -> v != null;
                case "exact" -> v != null && v.equals(m.value());
                case "prefix" -> v != null && v.startsWith(m.value());
                case "suffix" -> v != null && v.endsWith(m.value());
                case "contains" -> v != null && v.contains(m.value());
                default -> false;
            };
            // Envoy: invert_match of an absent header is still no match (except present)
            boolean result = m.invert() ? (v != null || "present".equals(m.kind())) && !hit : hit;
            if (!result) {
                return false;
            }
        }
        return true;
    }
}
