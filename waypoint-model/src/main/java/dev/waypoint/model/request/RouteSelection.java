package dev.waypoint.model.request;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.time.Duration;
import java.util.Objects;

/**
 * The routing stage's decision for one request: which backend it goes to, and how the upstream
 * stage may try. Written to {@link #KEY} by the {@code route} filter; the upstream stage turns
 * the backend into endpoint attempts.
 *
 * @param routeName name for logs and metrics ({@code default} for a Service's own route)
 * @param timeout the whole request's timeout (first byte of the request to the last of the
 *        response), or null for none (Istio's default: no route timeout)
 * @param retry when a failed attempt is tried again
 * @param mirrors where a fire-and-forget copy of this request goes (HTTPRoute {@code RequestMirror},
 *        already drawn against each mirror's percentage): a {@link ServiceBackend} or a
 *        {@link ServiceEntryBackend}; its answer is dropped
 */
public record RouteSelection(String routeName, Backend backend, Duration timeout, RetryPolicy retry,
                             java.util.List<Backend> mirrors) {
    /** The request slot the {@code route} stage writes. */
    public static final RequestKey<RouteSelection> KEY = RequestKey.of("route", RouteSelection.class);

    public RouteSelection {
        Objects.requireNonNull(routeName, "routeName");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(retry, "retry");
        mirrors = java.util.List.copyOf(mirrors);
    }

    /** Without mirrors. */
    public RouteSelection(String routeName, Backend backend, Duration timeout, RetryPolicy retry) {
        this(routeName, backend, timeout, retry, java.util.List.of());
    }

    /** A route with no timeout and no retries. */
    public RouteSelection(String routeName, Backend backend) {
        this(routeName, backend, null, RetryPolicy.NONE);
    }

    /** {@code default -> Service demo/reviews:9080 (timeout 5s, 2 retries)}: for logs and {@code explain}. */
    @Override
    public String toString() {
        return routeName + " -> " + backend + " (" + (timeout == null ? "no timeout" : "timeout " + timeout.toMillis() + " ms")
                + ", " + (retry.retries() == 0 ? "no retries" : retry.retries() + " retries") + ")";
    }

    /** Where a request goes. */
    public sealed interface Backend {}

    /** A Service port: one of its ready endpoints on the resolved target port. */
    public record ServiceBackend(ServiceSpec service, ServicePortSpec port) implements Backend {
        @Override
        public String toString() {
            return "Service " + service.name() + ":" + port.port();
        }
    }

    /** One pod, on the port the client addressed (workload-addressed traffic: no load balancing). */
    public record PodBackend(PodSpec pod, int port) implements Backend {
        @Override
        public String toString() {
            return "Pod " + pod.name() + ":" + port;
        }
    }

    /**
     * A ServiceEntry port: one of its endpoints (static, selected workloads, or DNS answers), or
     * with {@code resolution: NONE} the original destination.
     *
     * @param original the address the client asked for ({@code resolution: NONE} goes there), or
     *        null when the backend was named by a route
     */
    public record ServiceEntryBackend(ServiceEntrySpec entry, ServicePortSpec port, HostPort original) implements Backend {
        @Override
        public String toString() {
            return "ServiceEntry " + entry.name() + " (" + entry.host() + "):" + port.port();
        }
    }
}
