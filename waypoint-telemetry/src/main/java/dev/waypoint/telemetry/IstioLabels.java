package dev.waypoint.telemetry;

import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import java.util.Map;

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

    /**
     * The TCP metrics' label names: Istio's set without the HTTP ones ({@code response_code},
     * {@code grpc_response_status}), which a byte stream has not (istio/proxy stats filter).
     */
    static final String[] TCP_NAMES = {"reporter", "source_workload", "source_workload_namespace", "source_principal",
            "source_app", "source_version", "source_canonical_service", "source_canonical_revision", "source_cluster",
            "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
            "destination_version", "destination_service", "destination_service_name", "destination_service_namespace",
            "destination_canonical_service", "destination_canonical_revision", "destination_cluster", "request_protocol",
            "response_flags", "connection_security_policy"};

    static final String UNKNOWN = "unknown";

    private IstioLabels() {}

    /**
     * The label values for {@code request}, in {@link #NAMES} order.
     *
     * @param clusterDomain DNS suffix of Service names ({@code cluster.local})
     * @param clusterId this cluster's id ({@code Kubernetes}, Istio's default)
     */
    static String[] values(RequestContext request, String clusterDomain, String clusterId) {
        RequestOutcome o = request.outcome();
        String[] v = new String[NAMES.length];
        source(v, request.tunnel());
        destination(v, o.endpointPod(), o.endpointIdentity(), destination(request), clusterDomain, clusterId);
        v[20] = request.attributes().grpc() ? "grpc" : "http";
        v[21] = Integer.toString(o.status());
        v[22] = o.grpcStatus() >= 0 ? Integer.toString(o.grpcStatus()) : "";
        v[23] = o.flags();
        v[24] = "mutual_tls";
        return v;
    }

    /**
     * The label values of a TCP tunnel, in {@link #TCP_NAMES} order: destination_* from the
     * endpoint it was relayed to (or would have been) and the Service it addressed.
     */
    static String[] tcpValues(TunnelContext tunnel, TcpOutcome o, String clusterDomain, String clusterId) {
        String[] v = new String[TCP_NAMES.length];
        source(v, tunnel);
        Object service = tunnel.target() instanceof Target.ServiceTarget t ? t.service()
                : tunnel.target() instanceof Target.ServiceEntryTarget se ? se.entry() : null;
        destination(v, o.endpointPod(), o.endpointIdentity(), service, clusterDomain, clusterId);
        v[20] = "tcp";
        v[21] = o.flags();
        v[22] = "mutual_tls";
        return v;
    }

    /** The destination Service of a request: its route's backend Service, else the Service it addressed, else null. */
    static ServiceSpec service(RequestContext request) {
        RouteSelection route = request.get(RouteSelection.KEY);
        if (route != null && route.backend() instanceof RouteSelection.ServiceBackend s) {
            return s.service();
        }
        return request.target() instanceof Target.ServiceTarget t ? t.service() : null;
    }

    /**
     * The destination service of a request as {@link #service} sees it, or the ServiceEntry in its
     * place (the route's ServiceEntry backend, else the ServiceEntry it addressed): a
     * {@link ServiceSpec}, a {@link ServiceEntrySpec} or null. Allocates nothing.
     */
    static Object destination(RequestContext request) {
        RouteSelection route = request.get(RouteSelection.KEY);
        if (route != null && route.backend() instanceof RouteSelection.ServiceEntryBackend se) {
            return se.entry();
        }
        ServiceSpec service = service(request);
        if (service == null && request.target() instanceof Target.ServiceEntryTarget t) {
            return t.entry();
        }
        return service;
    }

    /** Number of source labels (indices 0..8 of {@link #NAMES}). */
    static final int SOURCE_COUNT = 9;
    /** Number of destination labels (indices 9..19). */
    static final int DESTINATION_COUNT = 11;

    /** Indices 0..8 alone (reporter, source_*), for the recording cache. */
    static String[] sourceValues(TunnelContext tunnel) {
        String[] v = new String[SOURCE_COUNT];
        source(v, tunnel);
        return v;
    }

    /** Indices 9..19 alone (destination_*), for the recording cache, at offset 0. */
    static String[] destinationValues(PodSpec pod, SpiffeId identity, Object service, String clusterDomain,
                                      String clusterId) {
        String[] v = new String[SOURCE_COUNT + DESTINATION_COUNT];
        destination(v, pod, identity, service, clusterDomain, clusterId);
        return java.util.Arrays.copyOfRange(v, SOURCE_COUNT, SOURCE_COUNT + DESTINATION_COUNT);
    }

    /** Indices 0..8: reporter and source_*, from the HBONE peer identity and the CONNECT baggage. */
    private static void source(String[] v, TunnelContext tunnel) {
        Map<String, String> baggage = Baggage.parse(tunnel.baggage());
        SpiffeId peer = tunnel.peer();
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
    }

    /**
     * Indices 9..19: destination_*, from the endpoint's pod and the Service ({@code service} a
     * {@link ServiceSpec}, a {@link ServiceEntrySpec} or null). A ServiceEntry is labelled as Istio's
     * registry names it (pilot serviceentry/conversion.go: the service's name is the host, its
     * namespace the entry's): destination_service and destination_service_name are its host.
     */
    /**
     * Indices 9..19 from the endpoint's pod, the identity it presented (destination_principal:
     * "unknown" for an endpoint reached in plaintext, as Istio's waypoint reports a destination
     * without a peer certificate) and the destination service.
     */
    private static void destination(String[] v, PodSpec pod, SpiffeId identity, Object service,
                                    String clusterDomain, String clusterId) {
        String dstWorkload = pod != null ? workloadName(pod) : UNKNOWN;
        v[9] = dstWorkload;
        v[10] = pod != null ? pod.name().namespace() : UNKNOWN;
        v[11] = identity != null ? identity.uri() : UNKNOWN;
        v[12] = pod != null ? pod.labels().getOrDefault("app", UNKNOWN) : UNKNOWN;
        v[13] = pod != null ? pod.labels().getOrDefault("version", UNKNOWN) : UNKNOWN;
        ServiceSpec svc = service instanceof ServiceSpec s ? s : null;
        ServiceEntrySpec entry = service instanceof ServiceEntrySpec e ? e : null;
        String svcName = svc != null ? svc.name().name() : entry != null ? entry.host() : null;
        String svcNs = svc != null ? svc.name().namespace() : entry != null ? entry.name().namespace() : null;
        v[14] = svc != null ? svcName + "." + svcNs + ".svc." + clusterDomain : svcName != null ? svcName : UNKNOWN;
        v[15] = svcName != null ? svcName : UNKNOWN;
        v[16] = svcNs != null ? svcNs : UNKNOWN;
        v[17] = pod != null ? canonicalService(pod, dstWorkload) : UNKNOWN;
        v[18] = pod != null ? canonicalRevision(pod) : UNKNOWN;
        v[19] = clusterId;
    }

    /** The workload a pod belongs to, as the config derived it from its ownerReferences (Istio's rule). */
    static String workloadName(PodSpec pod) {
        return pod.workload().name();
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
