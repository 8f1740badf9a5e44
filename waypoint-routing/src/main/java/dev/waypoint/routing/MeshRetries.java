package dev.waypoint.routing;

import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.request.RetryPolicy;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The mesh config's {@code defaultHttpRetryPolicy} (an Istio {@code HTTPRetry}) as the
 * {@link RetryPolicy} the upstream stage runs, converted as Istio's {@code retry.ConvertPolicy}
 * does ({@code pilot/pkg/networking/core/route/retry/retry.go}):
 * <ul>
 *   <li>not set → the fallback (Istio's default policy);</li>
 *   <li>{@code attempts <= 0} → "explicitly disabling the retry policy": no retries;</li>
 *   <li>otherwise {@code attempts} retries, {@code perTryTimeout}, and {@code retryOn} parsed as
 *       Envoy's {@code retry_on} ("any integers are assumed to be status codes"); without
 *       {@code retryOn}, Istio's default conditions ({@code connect-failure,refused-stream,
 *       unavailable,cancelled,retriable-status-codes}) with no status code listed.</li>
 * </ul>
 * Conditions this waypoint cannot tell apart map to the nearest it can: {@code reset} and
 * {@code reset-before-request} → resets, {@code 5xx} → 500-599, {@code gateway-error} → 502-504,
 * {@code retriable-4xx} → 409; {@code envoy-ratelimited} and {@code http3-post-connect-failure}
 * are ignored. Pure.
 */
final class MeshRetries {
    private MeshRetries() {}

    static RetryPolicy policy(MeshConfigSpec.HttpRetry retry, RetryPolicy fallback) {
        if (retry == null) {
            return fallback;
        }
        if (retry.attempts() <= 0) {
            return RetryPolicy.NONE;
        }
        String retryOn = retry.retryOn() == null ? "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
                : retry.retryOn();
        boolean connect = false;
        boolean reset = false;
        boolean refused = false;
        Set<Integer> statuses = new HashSet<>();
        Set<Integer> grpc = new HashSet<>();
        for (String token : retryOn.split(",")) {
            String t = token.trim().toLowerCase(Locale.ROOT);
            switch (t) {
                case "connect-failure" -> connect = true;
                case "refused-stream" -> refused = true;
                case "reset", "reset-before-request" -> reset = true;
                case "5xx" -> {
                    for (int s = 500; s < 600; s++) {
                        statuses.add(s);
                    }
                    reset = true; // Envoy: 5xx "also retries on connect failure and reset"
                    connect = true;
                }
                case "gateway-error" -> {
                    statuses.add(502);
                    statuses.add(503);
                    statuses.add(504);
                }
                case "retriable-4xx" -> statuses.add(409);
                case "cancelled" -> grpc.add(1);
                case "deadline-exceeded" -> grpc.add(4);
                case "resource-exhausted" -> grpc.add(8);
                case "internal" -> grpc.add(13);
                case "unavailable" -> grpc.add(14);
                default -> {
                    if (!t.isEmpty() && t.chars().allMatch(Character::isDigit) && t.length() == 3) {
                        statuses.add(Integer.parseInt(t));
                    }
                    // retriable-status-codes: the codes are the integers listed; others are not modelled
                }
            }
        }
        return new RetryPolicy(retry.attempts(), retry.perTryTimeout(), connect, reset, refused, statuses, grpc);
    }
}
