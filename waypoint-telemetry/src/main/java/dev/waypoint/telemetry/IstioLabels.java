package dev.waypoint.telemetry;

import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Istio's standard metric labels for one finished request, with the values a waypoint reports
 * (shared/spec/telemetry.md): {@code reporter="waypoint"}; source_* from the HBONE peer identity
 * and the CONNECT {@code baggage}; destination_* from the chosen endpoint's pod and the backend
 * Service; unknown values are {@code unknown}. Pure.
 */
final class IstioLabels {
    /** Label names, in Istio's order (also the order of {@link #values}). */
    static final String[] NAMES = {"reporter", "source_workload", "source_workload_namespace", "source_principal",
            "source_app", "source_version", "source_canonical_service", "source_canonical_revision", "source_cluster",
            "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
            "destination_version", "destination_service", "destination_service_name", "destination_service_namespace",
            "destination_canonical_service", "destination_canonical_revision", "destination_cluster", "request_protocol",
            "response_code", "grpc_response_status", "response_flags", "connection_security_policy"};

    static final String UNKNOWN = "unknown";
    /** A ReplicaSet pod: {@code <deployment>-<pod-template-hash>-<5 chars>}. */
    private static final Pattern REPLICASET_POD = Pattern.compile("^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$");

    private IstioLabels() {}

    /**
     * The label values for {@code request}, in {@link #NAMES} order.
     *
     * @param trustDomain the mesh trust domain (destination principals)
     * @param clusterDomain DNS suffix of Service names ({@code cluster.local})
     * @param clusterId this cluster's id ({@code Kubernetes}, Istio's default)
     */
    static String[] values(RequestContext request, String trustDomain, String clusterDomain, String clusterId) {
        return values(request, Baggage.parse(request.tunnel().baggage()), trustDomain, clusterDomain, clusterId);
    }

    /** As {@link #values(RequestContext, String, String, String)}, with the tunnel's baggage already parsed. */
    static String[] values(RequestContext request, Map<String, String> baggage, String trustDomain, String clusterDomain,
                           String clusterId) {
        PodSpec pod = request.outcome().endpointPod();
        return values(request, baggage, pod != null ? PodLabels.of(pod, trustDomain) : null, clusterDomain, clusterId);
    }

    /** As {@link #values(RequestContext, Map, String, String, String)}, with the endpoint pod's labels already derived. */
    static String[] values(RequestContext request, Map<String, String> baggage, PodLabels podLabels, String clusterDomain,
                           String clusterId) {
        RequestOutcome o = request.outcome();
        SpiffeId peer = request.tunnel().peer();
        String[] v = new String[NAMES.length];
        v[0] = "waypoint";
        String srcNs = peer != null ? peer.namespace() : baggage.getOrDefault("k8s.namespace.name", UNKNOWN);
        String srcWorkload = Baggage.workloadName(baggage);
        v[1] = srcWorkload;
        v[2] = srcNs;
        v[3] = peer != null ? peer.uri() : UNKNOWN;
        String srcApp = baggage.getOrDefault("service.name", srcWorkload);
        String srcVersion = baggage.getOrDefault("service.version", UNKNOWN);
        v[4] = srcApp;
        v[5] = srcVersion;
        v[6] = srcApp;
        v[7] = baggage.getOrDefault("service.version", "latest");
        v[8] = baggage.getOrDefault("k8s.cluster.name", UNKNOWN);

        PodLabels pod = podLabels;
        v[9] = pod != null ? pod.workload() : UNKNOWN;
        v[10] = pod != null ? pod.namespace() : UNKNOWN;
        v[11] = pod != null && o.endpoint() != null ? pod.principal() : UNKNOWN;
        v[12] = pod != null ? pod.app() : UNKNOWN;
        v[13] = pod != null ? pod.version() : UNKNOWN;
        String svcName = null;
        String svcNs = null;
        RouteSelection route = request.get(RouteSelection.KEY);
        if (route != null && route.backend() instanceof RouteSelection.ServiceBackend s) {
            svcName = s.service().name().name();
            svcNs = s.service().name().namespace();
        } else if (request.target() instanceof Target.ServiceTarget t) {
            svcName = t.service().name().name();
            svcNs = t.service().name().namespace();
        }
        String entryHost = null;
        if (route != null && route.backend() instanceof RouteSelection.ServiceEntryBackend se) {
            entryHost = se.entry().host();
            svcNs = se.entry().name().namespace();
        } else if (svcName == null && request.target() instanceof Target.ServiceEntryTarget t) {
            entryHost = t.entry().host();
            svcNs = t.entry().name().namespace();
        }
        if (entryHost != null) {
            // Istio labels a ServiceEntry destination with its host as both service and service name
            svcName = entryHost;
        }
        v[14] = entryHost != null ? entryHost : svcName != null ? svcName + "." + svcNs + ".svc." + clusterDomain : UNKNOWN;
        v[15] = svcName != null ? svcName : UNKNOWN;
        v[16] = svcNs != null ? svcNs : UNKNOWN;
        v[17] = pod != null ? pod.canonicalService() : UNKNOWN;
        v[18] = pod != null ? pod.canonicalRevision() : UNKNOWN;
        v[19] = clusterId;
        v[20] = request.attributes().grpc() ? "grpc" : "http";
        v[21] = Integer.toString(o.status());
        v[22] = o.grpcStatus() >= 0 ? Integer.toString(o.grpcStatus()) : "";
        v[23] = o.flags();
        v[24] = "mutual_tls";
        return v;
    }

    /**
     * The workload a pod belongs to. Istio reads the owner chain (ReplicaSet → Deployment); the
     * manifests here carry no ownerReferences yet, so a ReplicaSet-shaped name
     * ({@code reviews-v1-5f9c7b6d8-abcde}) gives its Deployment ({@code reviews-v1}), else the
     * pod name is the workload (as Istio does for a bare pod).
     */
    static String workloadName(PodSpec pod) {
        Matcher m = REPLICASET_POD.matcher(pod.name().name());
        return m.matches() ? m.group(1) : pod.name().name();
    }

    /** {@code service.istio.io/canonical-name}, else {@code app.kubernetes.io/name}, else {@code app}, else the workload. */
    static String canonicalService(PodSpec pod, String workload) {
        Map<String, String> l = pod.labels();
        String v = l.get("service.istio.io/canonical-name");
        if (v == null) {
            v = l.get("app.kubernetes.io/name");
        }
        if (v == null) {
            v = l.get("app");
        }
        return v != null ? v : workload;
    }

    /** {@code service.istio.io/canonical-revision}, else {@code app.kubernetes.io/version}, else {@code version}, else {@code latest}. */
    static String canonicalRevision(PodSpec pod) {
        Map<String, String> l = pod.labels();
        String v = l.get("service.istio.io/canonical-revision");
        if (v == null) {
            v = l.get("app.kubernetes.io/version");
        }
        if (v == null) {
            v = l.get("version");
        }
        return v != null ? v : "latest";
    }
}
