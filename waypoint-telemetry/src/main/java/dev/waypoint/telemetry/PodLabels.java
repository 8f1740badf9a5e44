package dev.waypoint.telemetry;

import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The destination labels Istio derives from an endpoint's pod: workload (the ReplicaSet-name
 * regex), namespace, principal (its SPIFFE URI), app, version, canonical service and revision.
 * They depend only on the pod and the trust domain, so telemetry derives them once per pod and
 * config generation ({@link Cache}) instead of per request (a regex match, a SpiffeId and its URI
 * string: ~320 B per request in FullChainBench).
 */
record PodLabels(String workload, String namespace, String principal, String app, String version,
                 String canonicalService, String canonicalRevision) {

    static PodLabels of(PodSpec pod, String trustDomain) {
        String workload = IstioLabels.workloadName(pod);
        return new PodLabels(workload, pod.name().namespace(), pod.identity(trustDomain).uri(),
                pod.labels().getOrDefault("app", IstioLabels.UNKNOWN), pod.labels().getOrDefault("version", IstioLabels.UNKNOWN),
                IstioLabels.canonicalService(pod, workload), IstioLabels.canonicalRevision(pod));
    }

    /**
     * The labels of the pods of the current config generation, by pod name; a new generation (a
     * different resource set) starts an empty map, so the cache holds at most the pods of one
     * generation and never a pod's labels from an older one.
     */
    static final class Cache {
        private record Generation(ResourceSet resources, ConcurrentHashMap<NamespacedName, PodLabels> pods) { }

        private final String trustDomain;
        private volatile Generation current;

        Cache(String trustDomain) {
            this.trustDomain = trustDomain;
        }

        PodLabels of(PodSpec pod, ResourceSet resources) {
            Generation g = current;
            if (g == null || g.resources() != resources) {
                g = new Generation(resources, new ConcurrentHashMap<>());
                current = g;
            }
            PodLabels l = g.pods().get(pod.name());
            if (l == null) {
                l = PodLabels.of(pod, trustDomain);
                g.pods().put(pod.name(), l);
            }
            return l;
        }
    }
}
