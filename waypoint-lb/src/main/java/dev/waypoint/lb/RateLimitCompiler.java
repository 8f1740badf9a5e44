package dev.waypoint.lb;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Local rate limits (EnvoyFilters) → {@link RateLimits}: attached as Istio attaches policies with
 * {@code targetRefs} ({@link PolicyTargetRef#attaches}): to this waypoint's Gateway (every call
 * through it), to a Service (calls to it, the EnvoyFilter in the Service's namespace). A limit
 * attached to nothing here is a warning.
 */
public final class RateLimitCompiler implements PartCompiler<RateLimits> {
    private final String rootNamespace;

    /** Rate limits with {@code istio-system} as the root namespace. */
    public RateLimitCompiler() {
        this("istio-system");
    }

    public RateLimitCompiler(String rootNamespace) {
        this.rootNamespace = rootNamespace;
    }

    @Override
    public SnapshotPart<RateLimits> part() {
        return RateLimits.PART;
    }

    @Override
    public RateLimits compile(ResourceSet resources, Diagnostics diagnostics) {
        NamespacedName wp = resources.waypoint();
        List<LocalRateLimitSpec> wide = new ArrayList<>();
        List<LocalRateLimitSpec> all = resources.localRateLimits();
        for (LocalRateLimitSpec s : all) {
            if (PolicyTargetRef.attaches(s.targetRefs(), s.name().namespace(), "", null, wp.namespace(), wp.name(),
                    rootNamespace)) {
                wide.add(s);
            }
        }
        Map<NamespacedName, List<LocalRateLimitSpec>> byService = new HashMap<>();
        List<LocalRateLimitSpec> attached = new ArrayList<>(wide);
        for (ServiceSpec svc : resources.services()) {
            List<LocalRateLimitSpec> mine = new ArrayList<>();
            for (LocalRateLimitSpec s : all) {
                if (PolicyTargetRef.attaches(s.targetRefs(), s.name().namespace(), svc.name().namespace(), svc.name().name(),
                        wp.namespace(), wp.name(), rootNamespace)) {
                    mine.add(s);
                    if (!attached.contains(s)) {
                        attached.add(s);
                    }
                }
            }
            if (mine.size() != wide.size()) {
                byService.put(svc.name(), mine);
            }
        }
        for (LocalRateLimitSpec s : all) {
            if (!attached.contains(s)) {
                diagnostics.warning(s.source(), "EnvoyFilter", s.name(), "spec.targetRefs",
                        "attaches to nothing this waypoint serves (targetRefs name neither this Gateway nor a Service "
                                + "in the EnvoyFilter's namespace)");
            }
        }
        for (LocalRateLimitSpec s : attached) {
            if (s.routePort() != 0 && !servesPort(resources, wide.contains(s) ? null : s, byService, s.routePort())) {
                diagnostics.warning(s.source(), "EnvoyFilter", s.name(), "spec.configPatches",
                        "HTTP_ROUTE vhost inbound|http|" + s.routePort() + ": no Service it attaches to has port "
                                + s.routePort() + ", so this per-route limit applies to no call");
            }
        }
        return new RateLimits(wide, byService);
    }

    /** Whether a Service that {@code s} attaches to (null: waypoint-wide, any Service) has port {@code port}. */
    private static boolean servesPort(ResourceSet resources, LocalRateLimitSpec s,
                                      Map<NamespacedName, List<LocalRateLimitSpec>> byService, int port) {
        for (ServiceSpec svc : resources.services()) {
            if (s != null && !byService.getOrDefault(svc.name(), List.of()).contains(s)) {
                continue;
            }
            if (svc.ports().stream().anyMatch(p -> p.port() == port)) {
                return true;
            }
        }
        return false;
    }
}
