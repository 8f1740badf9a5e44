package dev.waypoint.routing;

import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import java.time.Duration;
import java.util.List;

/**
 * One HTTPRoute rule, resolved against the snapshot: its backends (each resolved or invalid),
 * filters, timeout and retry policy. Immutable.
 *
 * @param routeName the label of logs and metrics: {@code <route>.<namespace>.<rule name or index>}
 * @param invalid why every request matching the rule gets 500, or null when it is servable
 * @param filters the rule's filters, in listed order
 * @param timeout {@code timeouts.request}, null when unset or "0s"
 * @param cors the rule's compiled {@code CORS} filter, or null
 * @param mirrors the rule's {@code RequestMirror}s whose backend resolved, in listed order
 */
record CompiledRule(String routeName, String invalid, List<HttpFilterSpec> filters, List<Backend> backends,
                    int totalWeight, Duration timeout, RetryPolicy retry, CorsPolicy cors, List<Mirror> mirrors) {
    CompiledRule {
        filters = List.copyOf(filters);
        backends = List.copyOf(backends);
        mirrors = List.copyOf(mirrors);
    }

    /** Without a CORS filter or mirrors. */
    CompiledRule(String routeName, String invalid, List<HttpFilterSpec> filters, List<Backend> backends,
                 int totalWeight, Duration timeout, RetryPolicy retry) {
        this(routeName, invalid, filters, backends, totalWeight, timeout, retry, null, List.of());
    }

    /**
     * A resolved {@code RequestMirror}: where a copy goes (a Service port, or a ServiceEntry port
     * resolved as a backendRef to it is), for which share of the requests.
     */
    record Mirror(RouteSelection.Backend target, double fraction) {}

    /**
     * One backendRef: {@code target} null when it cannot be used ({@code invalid} says why);
     * an invalid backend still takes its share of requests, which get 500. {@code mirrors}: the
     * backendRef's own {@code RequestMirror}s, copied only for requests sent to this backend.
     */
    record Backend(RouteSelection.Backend target, String invalid, int weight, List<HttpFilterSpec> filters,
                   List<Mirror> mirrors) {
        Backend {
            filters = List.copyOf(filters);
            mirrors = List.copyOf(mirrors);
        }

        /** Without mirrors of its own. */
        Backend(RouteSelection.Backend target, String invalid, int weight, List<HttpFilterSpec> filters) {
            this(target, invalid, weight, filters, List.of());
        }
    }

    /** The redirect filter of the rule, or null. */
    HttpFilterSpec.RequestRedirect redirect() {
        for (HttpFilterSpec f : filters) {
            if (f instanceof HttpFilterSpec.RequestRedirect r) {
                return r;
            }
        }
        return null;
    }

    /** The backend for one request: "weight / sum of weights" of the requests; 0 never. */
    Backend pick(BackendPicker picker) {
        if (backends.size() == 1) {
            return backends.get(0);
        }
        int r = picker.next(totalWeight);
        for (Backend b : backends) {
            r -= b.weight();
            if (r < 0) {
                return b;
            }
        }
        throw new IllegalStateException("weights changed under the picker");
    }
}
