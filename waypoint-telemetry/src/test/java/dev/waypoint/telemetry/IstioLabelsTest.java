package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Istio's standard labels for a finished request, and how workload and canonical names are derived. */
class IstioLabelsTest {
    static Map<String, String> labels(String[] values) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            m.put(IstioLabels.NAMES[i], values[i]);
        }
        return m;
    }

    @Test
    void anHttpRequestToAServiceCarriesIstiosLabels() {
        Map<String, String> l = labels(IstioLabels.values(Requests.finished(false, 200, "-", 12, true),
                "cluster.local", "Kubernetes"));
        assertThat(l).containsExactly(
                Map.entry("reporter", "waypoint"),
                Map.entry("source_workload", "curl"),
                Map.entry("source_workload_namespace", "demo"),
                Map.entry("source_principal", "spiffe://cluster.local/ns/demo/sa/curl"),
                Map.entry("source_app", "curl"),
                Map.entry("source_version", "v1"),
                Map.entry("source_canonical_service", "curl"),
                Map.entry("source_canonical_revision", "v1"),
                Map.entry("source_cluster", "Kubernetes"),
                Map.entry("destination_workload", "reviews-v2"),
                Map.entry("destination_workload_namespace", "demo"),
                Map.entry("destination_principal", "spiffe://cluster.local/ns/demo/sa/bookinfo-reviews"),
                Map.entry("destination_app", "reviews"),
                Map.entry("destination_version", "v2"),
                Map.entry("destination_service", "reviews.demo.svc.cluster.local"),
                Map.entry("destination_service_name", "reviews"),
                Map.entry("destination_service_namespace", "demo"),
                Map.entry("destination_canonical_service", "reviews"),
                Map.entry("destination_canonical_revision", "v2"),
                Map.entry("destination_cluster", "Kubernetes"),
                Map.entry("request_protocol", "http"),
                Map.entry("response_code", "200"),
                Map.entry("grpc_response_status", ""),
                Map.entry("response_flags", "-"),
                Map.entry("connection_security_policy", "mutual_tls"));
    }

    @Test
    void aRequestThatNeverReachedAnEndpointHasUnknownDestinationWorkload() {
        Map<String, String> l = labels(IstioLabels.values(Requests.finished(false, 503, "UH", 1, false),
                "cluster.local", "Kubernetes"));
        assertThat(l).containsEntry("destination_workload", "unknown").containsEntry("destination_principal", "unknown")
                .containsEntry("destination_service_name", "reviews").containsEntry("response_flags", "UH")
                .containsEntry("response_code", "503");
    }

    @Test
    void anEndpointReachedInPlaintextHasItsWorkloadButNoPrincipal() {
        // a pod outside the mesh: no HBONE, no certificate, so no destination principal (Istio: "unknown")
        dev.waypoint.model.request.RequestContext r = Requests.finished(false, 200, "-", 12, true);
        r.outcome().attempt("10.244.0.12:9080", Requests.REVIEWS_V2, null);
        Map<String, String> l = labels(IstioLabels.values(r, "cluster.local", "Kubernetes"));
        assertThat(l).containsEntry("destination_workload", "reviews-v2").containsEntry("destination_principal", "unknown");
        // TCP: the same
        dev.waypoint.model.request.TcpOutcome o = new dev.waypoint.model.request.TcpOutcome(0);
        o.endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, null);
        String[] tcp = IstioLabels.tcpValues(r.tunnel(), o, "cluster.local", "Kubernetes");
        assertThat(tcp[java.util.Arrays.asList(IstioLabels.TCP_NAMES).indexOf("destination_principal")]).isEqualTo("unknown");
        o.endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        tcp = IstioLabels.tcpValues(r.tunnel(), o, "cluster.local", "Kubernetes");
        assertThat(tcp[java.util.Arrays.asList(IstioLabels.TCP_NAMES).indexOf("destination_principal")])
                .isEqualTo("spiffe://cluster.local/ns/demo/sa/bookinfo-reviews");
    }

    @Test
    void grpcRequestsSayGrpcAndTheirStatus() {
        Map<String, String> l = labels(IstioLabels.values(Requests.finished(true, 200, "-", 3, true),
                "cluster.local", "Kubernetes"));
        assertThat(l).containsEntry("request_protocol", "grpc").containsEntry("grpc_response_status", "0");
    }

    @ParameterizedTest
    @CsvSource({"reviews-v1-5f9c7b6d8-abcde, Deployment, reviews-v1, reviews-v1", "db-0, StatefulSet, db, db",
            "standalone, , , standalone", "reviews-v1-5f9c7b6d8-abcde, , , reviews-v1-5f9c7b6d8-abcde"})
    void workloadNamesAreThePodsWorkloadNotItsNameShape(String pod, String kind, String name, String workload) {
        PodSpec p = pod(pod, Map.of());
        PodSpec owned = kind == null ? p : new PodSpec(p.name(), p.labels(), p.serviceAccount(), p.ip(), p.ready(),
                p.namedPorts(), p.source(), new dev.waypoint.model.mesh.WorkloadRef(kind, name));
        assertThat(IstioLabels.workloadName(owned)).isEqualTo(workload);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "service.istio.io/canonical-name=c,app.kubernetes.io/name=k,app=a | c",
            "app.kubernetes.io/name=k,app=a | k",
            "app=a | a",
            " | wl"})
    void canonicalServiceFallsBackAsIstioDoes(String labels, String expected) {
        assertThat(IstioLabels.canonicalService(pod("p", parse(labels)), "wl")).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "service.istio.io/canonical-revision=r,app.kubernetes.io/version=k,version=v | r",
            "app.kubernetes.io/version=k,version=v | k",
            "version=v | v",
            " | latest"})
    void canonicalRevisionFallsBackAsIstioDoes(String labels, String expected) {
        assertThat(IstioLabels.canonicalRevision(pod("p", parse(labels)))).isEqualTo(expected);
    }

    @Test
    void baggageGivesTheSourceWorkloadWhateverItsKind() {
        assertThat(Baggage.workloadName(Baggage.parse("k8s.namespace.name=a,k8s.statefulset.name=db;p=1")))
                .isEqualTo("db");
        assertThat(Baggage.workloadName(Baggage.parse(null))).isEqualTo("unknown");
        assertThat(Baggage.parse("bad,=x,k=v")).containsExactly(Map.entry("k", "v"));
    }

    static Map<String, String> parse(String labels) {
        Map<String, String> m = new LinkedHashMap<>();
        if (labels != null && !labels.isBlank()) {
            for (String kv : labels.trim().split(",")) {
                String[] p = kv.split("=", 2);
                m.put(p[0], p[1]);
            }
        }
        return m;
    }

    static PodSpec pod(String name, Map<String, String> labels) {
        return new PodSpec(new NamespacedName("demo", name), labels, "sa", HostPort.parseIp("10.0.0.1"), true, Map.of(),
                SourceRef.NONE);
    }
}
