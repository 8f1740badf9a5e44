package dev.waypoint.lb;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TlsSecretSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.LoadBalancerSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * DestinationRules → one {@link LbPolicy} per Service port, compiled with the port's endpoints
 * (hash tables are built here). Run by {@link EndpointCompiler}, so endpoints and their policy
 * are one snapshot part and can never be of different generations.
 *
 * <p><b>Host.</b> Resolved as Istio's {@code ResolveShortnameToFQDN} does, in the rule's namespace:
 * a host without a dot is {@code host.<ns>.svc.cluster.local}; a host with a dot is taken as
 * fully qualified, so {@code reviews.ns} matches no Service (a warning says what to write).
 * {@code cluster.local} is Istio's default domain suffix.
 *
 * <p><b>Which rule.</b> Several rules for one Service: one in the waypoint's namespace wins, then
 * one in the Service's namespace, then the root namespace ({@code istio-system}); within a
 * namespace the first in input order (Istio keeps the oldest's traffic policy when it merges).
 * Each loser is a warning. {@code exportTo} is not evaluated.
 */
final class TrafficPolicyCompiler {
    static final String DOMAIN_SUFFIX = ".svc.cluster.local";
    static final String ROOT_NAMESPACE = "istio-system";

    private final Map<NamespacedName, DestinationRuleSpec> byService = new HashMap<>();
    private final Set<DestinationRuleSpec> passthroughNoted = new HashSet<>();
    private final Map<TrafficPolicySpec.TlsSpec, UpstreamTls> tlsCompiled = new HashMap<>();
    private final Set<DestinationRuleSpec> hashOnDnsWarned = new HashSet<>();
    private final Diagnostics diagnostics;
    /** The TLS Secrets of the waypoint's namespace by name, for {@code credentialName}. */
    private final Map<String, TlsSecretSpec> tlsSecrets = new HashMap<>();
    private final String waypointNamespace;

    /**
     * MeshConfig {@code localityLbSetting} (Istio's default when not written: enabled, no
     * failover or distribute), for ports whose rule has none.
     */
    private final TrafficPolicySpec.LocalityLbSpec meshLocality;

    /** Rules per ServiceEntry (by its name), for entries' hosts. */
    private final Map<NamespacedName, DestinationRuleSpec> byEntry = new HashMap<>();

    /** For Services (what {@link EndpointCompiler} runs); warnings about rules for Services and rules matching nothing. */
    TrafficPolicyCompiler(ResourceSet resources, Diagnostics diagnostics) {
        this(resources, diagnostics, false);
    }

    /**
     * @param entries compile for ServiceEntries ({@link ServiceEntryEndpointCompiler}): only the
     *        rules whose host is a ServiceEntry host, and only their warnings (the Service compiler
     *        reports the rest, so nothing is reported twice)
     */
    TrafficPolicyCompiler(ResourceSet resources, Diagnostics diagnostics, boolean entries) {
        this.diagnostics = diagnostics;
        this.waypointNamespace = resources.waypoint().namespace();
        for (TlsSecretSpec secret : resources.tlsSecrets()) {
            if (secret.name().namespace().equals(waypointNamespace)) {
                tlsSecrets.put(secret.name().name(), secret);
            }
        }
        this.meshLocality = resources.meshConfig().effectiveLocalityLbSetting();
        Set<NamespacedName> services = new HashSet<>();
        resources.services().forEach(s -> services.add(s.name()));
        // "host: ... a service from the service registry (Kubernetes services, ServiceEntry hosts)"
        Map<String, List<ServiceEntrySpec>> entryHosts = new HashMap<>();
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            for (String h : se.hosts()) {
                entryHosts.computeIfAbsent(h, k -> new java.util.ArrayList<>()).add(se);
            }
        }
        String waypointNs = resources.waypoint().namespace();
        for (DestinationRuleSpec dr : resources.destinationRules()) {
            NamespacedName svc = resolve(dr.host(), dr.name().namespace());
            List<ServiceEntrySpec> ses = entryHosts.get(dr.host());
            if (ses == null && dr.host().indexOf('.') < 0) {
                ses = entryHosts.get(dr.host() + "." + dr.name().namespace() + DOMAIN_SUFFIX);
            }
            if ((svc == null || !services.contains(svc)) && ses != null) {
                if (entries) {
                    for (ServiceEntrySpec se : ses) {
                        DestinationRuleSpec prev = byEntry.get(se.name());
                        if (prev == null || rank(dr, se.name(), waypointNs) < rank(prev, se.name(), waypointNs)) {
                            if (prev != null) {
                                shadowed(prev, dr);
                            }
                            byEntry.put(se.name(), dr);
                        } else {
                            shadowed(dr, prev);
                        }
                    }
                }
                continue;
            }
            if (entries) {
                continue;
            }
            if (svc == null || !services.contains(svc)) {
                String hint = svc == null && dr.host().split("\\.").length == 2
                        ? "; a host with a dot is read as fully qualified, as Istio does: write "
                                + dr.host() + DOMAIN_SUFFIX + " or the short name"
                        : "";
                diagnostics.warning(dr.source(), "DestinationRule", dr.name(), "spec.host",
                        "host: " + dr.host() + " matches no Service or ServiceEntry host in this config" + hint);
                continue;
            }
            DestinationRuleSpec prev = byService.get(svc);
            if (prev == null || rank(dr, svc, waypointNs) < rank(prev, svc, waypointNs)) {
                if (prev != null) {
                    shadowed(prev, dr);
                }
                byService.put(svc, dr);
            } else {
                shadowed(dr, prev);
            }
        }
    }

    private void shadowed(DestinationRuleSpec loser, DestinationRuleSpec winner) {
        diagnostics.warning(loser.source(), "DestinationRule", loser.name(), "spec.host", "host: " + loser.host()
                + " has another DestinationRule that applies instead: " + winner.name());
    }

    private static int rank(DestinationRuleSpec dr, NamespacedName svc, String waypointNs) {
        String ns = dr.name().namespace();
        if (ns.equals(waypointNs)) {
            return 0;
        }
        return ns.equals(svc.namespace()) ? 1 : ns.equals(ROOT_NAMESPACE) ? 2 : 3;
    }

    /** The Service {@code host} names in namespace {@code ns}, or null when it names none. */
    static NamespacedName resolve(String host, String ns) {
        if (host.indexOf('.') < 0) {
            return new NamespacedName(ns, host);
        }
        if (host.endsWith(DOMAIN_SUFFIX)) {
            String rest = host.substring(0, host.length() - DOMAIN_SUFFIX.length());
            int dot = rest.indexOf('.');
            if (dot > 0 && dot == rest.lastIndexOf('.') && dot < rest.length() - 1) {
                return new NamespacedName(rest.substring(dot + 1), rest.substring(0, dot));
            }
        }
        return null;
    }

    /** The policy of {@code svc}'s {@code port} over {@code endpoints}, or null when no rule applies. */
    LbPolicy compile(ServiceSpec svc, ServicePortSpec port, List<Endpoint> endpoints) {
        DestinationRuleSpec dr = byService.get(svc.name());
        return dr == null ? meshOnly(endpoints) : compile(dr, port, endpoints, false);
    }

    /**
     * A port no rule speaks for: only the MeshConfig {@code localityLbSetting}'s {@code distribute}
     * can apply (Istio's {@code GetEffectiveLbSetting} falls back to the mesh setting; failover
     * needs outlier detection, which such a port has none of), else null (the defaults).
     */
    private LbPolicy meshOnly(List<Endpoint> endpoints) {
        LocalityLb locality = meshLocality(null, endpoints);
        return locality == null ? null : new LbPolicy(null, null, null, null, null, locality);
    }

    /**
     * The MeshConfig {@code localityLbSetting} for a port whose rule writes none, as Istio's
     * {@code GetEffectiveLbSetting} ({@code pilot/pkg/networking/core/loadbalancer/loadbalancer.go})
     * resolves it: "if meshLocality.GetEnabled() != nil && !meshLocality.GetEnabled().Value { return nil }".
     * Then {@code LocalityLBSettings.ApplyToCluster} / {@code ApplyLocalityLoadBalancer}: distribute
     * always; failover ("Failover should only be applied with outlier detection, or traffic will
     * never failover") only with the port's {@code outlierDetection} — so, with Istio's default mesh
     * setting (enabled), a rule with outlier detection gets the default locality failover. No
     * warning here: the mesh setting is meant for every port, and most have no outlier detection.
     */
    private LocalityLb meshLocality(OutlierDetectionSpec od, List<Endpoint> endpoints) {
        if (!meshLocality.enabled()) {
            return null;
        }
        if (meshLocality.distribute().isEmpty() && od == null) {
            return null;
        }
        return new LocalityLb(meshLocality, endpoints, true);
    }

    /**
     * The policy of ServiceEntry {@code se}'s {@code port} over its fixed {@code endpoints}, or null.
     * With DNS names ({@code dns}) a consistent hash is not applied (the endpoint list changes with
     * every answer; a warning), the rest is.
     */
    LbPolicy compileEntry(ServiceEntrySpec se, ServicePortSpec port, List<Endpoint> endpoints, boolean dns) {
        DestinationRuleSpec dr = byEntry.get(se.name());
        return dr == null ? null : compile(dr, port, endpoints, dns);
    }

    private LbPolicy compile(DestinationRuleSpec dr, ServicePortSpec port, List<Endpoint> endpoints, boolean dns) {
        TrafficPolicySpec top = dr.trafficPolicy();
        LoadBalancerSpec lb = top.loadBalancer();
        OutlierDetectionSpec od = top.outlierDetection();
        TrafficPolicySpec.ConnectionPoolSpec pool = top.connectionPool();
        TrafficPolicySpec.TlsSpec tls = top.tls();
        String tlsField = "spec.trafficPolicy.tls";
        for (TrafficPolicySpec.PortPolicySpec p : top.portLevelSettings()) {
            if (p.port() == port.port()) {
                // a port-level setting replaces the top-level field it writes (Istio's MergeTrafficPolicy)
                if (p.policy().loadBalancer() != null) {
                    lb = p.policy().loadBalancer();
                }
                if (p.policy().outlierDetection() != null) {
                    od = p.policy().outlierDetection();
                }
                if (p.policy().connectionPool() != null) {
                    pool = p.policy().connectionPool();
                }
                if (p.policy().tls() != null) {
                    tls = p.policy().tls();
                    tlsField = "spec.trafficPolicy.portLevelSettings.tls";
                }
            }
        }
        if (lb == null && od == null && pool == null && tls == null) {
            return dns ? null : meshOnly(endpoints);
        }
        if (dns && lb != null && lb.consistentHash() != null) {
            if (hashOnDnsWarned.add(dr)) {
                diagnostics.warning(dr.source(), "DestinationRule", dr.name(), "spec.trafficPolicy.loadBalancer.consistentHash",
                        "not applied to a ServiceEntry with resolution DNS (its endpoints change with each answer); "
                                + "LEAST_REQUEST is used");
            }
            lb = null;
        }
        return new LbPolicy(dr.name(), balancer(dr, lb, endpoints), od, pool, tls == null ? null : tls(dr, tls, tlsField),
                locality(dr, lb, od, endpoints, dns));
    }

    /**
     * {@code localityLbSetting} as Istio's {@code applyLocalityLoadBalancer} applies it: {@code distribute}
     * always; failover (the priorities) only with outlier detection, since without it Envoy never
     * sees a priority's endpoints unhealthy (a warning, once per rule); {@code enabled: false} disables it.
     */
    private LocalityLb locality(DestinationRuleSpec dr, LoadBalancerSpec lb, OutlierDetectionSpec od, List<Endpoint> endpoints,
                                boolean dns) {
        if (lb == null || lb.locality() == null) {
            // the rule says nothing: the mesh's applies (not to DNS endpoints: they have no locality)
            return dns ? null : meshLocality(od, endpoints);
        }
        if (!lb.locality().enabled()) {
            return null; // the rule's enabled: false turns it off, the mesh's too (GetEffectiveLbSetting)
        }
        if (dns) {
            // DNS answers carry no pod labels, and the plan is built over a fixed endpoint list
            if (localityWarned.add(dr)) {
                diagnostics.warning(dr.source(), "DestinationRule", dr.name(), "spec.trafficPolicy.loadBalancer.localityLbSetting",
                        "not applied to a ServiceEntry with resolution DNS (its endpoints have no locality)");
            }
            return null;
        }
        if (lb.locality().distribute().isEmpty() && od == null) {
            if (localityWarned.add(dr)) {
                diagnostics.warning(dr.source(), "DestinationRule", dr.name(), "spec.trafficPolicy.loadBalancer.localityLbSetting",
                        "locality failover needs outlierDetection (as Istio requires); not applied");
            }
            return null;
        }
        return new LocalityLb(lb.locality(), endpoints);
    }

    private final Set<DestinationRuleSpec> localityWarned = new HashSet<>();

    /**
     * One compiled TLS per rule and spec (files read once per generation; {@code credentialName}'s
     * Secrets from the waypoint's namespace); a broken one is an error.
     */
    private UpstreamTls tls(DestinationRuleSpec dr, TrafficPolicySpec.TlsSpec spec, String field) {
        UpstreamTls t = tlsCompiled.get(spec);
        if (t == null) {
            t = UpstreamTls.compile(spec, tlsSecrets::get, waypointNamespace);
            tlsCompiled.put(spec, t);
            if (t.broken() != null) {
                String f = t.broken().substring(0, t.broken().indexOf(':'));
                diagnostics.error(dr.source(), "DestinationRule", dr.name(), f.equals("tls") ? field : field + "." + f,
                        t.broken() + "; connections to the rule's endpoints outside the mesh fail (503 UF) until it is fixed");
            }
        }
        return t;
    }

    private Balancer balancer(DestinationRuleSpec dr, LoadBalancerSpec lb, List<Endpoint> endpoints) {
        if (lb == null) {
            return null;
        }
        if (lb.consistentHash() != null) {
            return Balancers.consistentHash(lb.consistentHash(), endpoints);
        }
        TrafficPolicySpec.Simple simple = lb.simple() == null ? TrafficPolicySpec.Simple.UNSPECIFIED : lb.simple();
        return switch (simple) {
            case UNSPECIFIED, LEAST_REQUEST -> Balancers.leastRequest(lb.warmup());
            case ROUND_ROBIN -> Balancers.roundRobin(lb.warmup());
            case RANDOM -> Balancers.random("RANDOM");
            case PASSTHROUGH -> {
                if (passthroughNoted.add(dr)) {
                    diagnostics.note(dr.source(), "DestinationRule", dr.name(), "spec.trafficPolicy.loadBalancer.simple",
                            "PASSTHROUGH: Service traffic at a waypoint has no original destination but the VIP; "
                                    + "endpoints are picked at random");
                }
                yield Balancers.random("PASSTHROUGH (random)");
            }
        };
    }
}
