package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * destination_service* of traffic to a ServiceEntry, as Istio labels it: its registry names a
 * ServiceEntry's service by the host (pilot serviceentry/conversion.go {@code Name: ha.host,
 * Namespace: cfg.Namespace}), so destination_service and destination_service_name are the host.
 */
class ServiceEntryLabelsTest {
    static ServiceEntrySpec entry(String name, String host) {
        return new ServiceEntrySpec(new NamespacedName("egress", name), Map.of(), List.of(host, "alias." + host),
                List.of(HostPort.parseIp("240.240.0.1")), List.of(new ServicePortSpec("http", 80, 80, null, "HTTP")),
                ServiceEntrySpec.Location.MESH_EXTERNAL, ServiceEntrySpec.Resolution.STATIC, List.of(), null, SourceRef.NONE);
    }

    static final ServiceEntrySpec API = entry("api", "api.example.com");
    static final ServiceEntrySpec OTHER = entry("other", "other.example.com");

    static Map<String, String> labels(String[] names, String[] values) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            m.put(names[i], values[i]);
        }
        return m;
    }

    static TunnelContext tunnel(Target target) {
        return new TunnelContext(target, new SpiffeId("cluster.local", "demo", "curl"), null,
                new InetSocketAddress("10.244.0.5", 41000), null, Requests.BAGGAGE, null);
    }

    /** A finished GET to {@code target} whose route sent it to {@code backend}. */
    static RequestContext request(Target target, RouteSelection.Backend backend) {
        TunnelContext tunnel = tunnel(target);
        Requests.Headers headers = new Requests.Headers(new LinkedHashMap<>(Map.of("host", "api.example.com")));
        ResourceSet rs = ResourceSet.empty(new NamespacedName("istio-system", "waypoint"), "cluster.local");
        RequestOutcome o = new RequestOutcome(1_000_000_000L);
        RequestContext rc = new RequestContext(tunnel, ConfigSnapshot.compile(0, rs, List.of(), new Diagnostics()), target,
                new Requests.Attrs("GET", "/", false, headers, tunnel), headers, o);
        rc.set(RouteSelection.KEY, new RouteSelection("default", backend));
        o.route("default");
        o.attempt("240.240.1.1:80", null, null);
        o.status(200);
        o.responseStarted(1_001_000_000L);
        o.close(RequestOutcome.End.RESPONSE, 1_002_000_000L);
        return rc;
    }

    static Target toEntry(ServiceEntrySpec se) {
        return new Target.ServiceEntryTarget(HostPort.parseAuthority("240.240.0.1:80"), se, se.ports().get(0));
    }

    @Test
    void httpToAServiceEntryIsLabelledWithItsHost() {
        Map<String, String> l = labels(IstioLabels.NAMES, IstioLabels.values(request(toEntry(API),
                new RouteSelection.ServiceEntryBackend(API, API.ports().get(0), null)), "cluster.local",
                "Kubernetes"));
        assertThat(l).containsEntry("destination_service", "api.example.com")
                .containsEntry("destination_service_name", "api.example.com")
                .containsEntry("destination_service_namespace", "egress")
                .containsEntry("destination_workload", "unknown");
    }

    @Test
    void aServiceRoutedToAServiceEntryIsLabelledWithTheEntry() {
        Target toService = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.10:9080"), Requests.REVIEWS,
                Requests.REVIEWS.ports().get(0));
        Map<String, String> l = labels(IstioLabels.NAMES, IstioLabels.values(request(toService,
                new RouteSelection.ServiceEntryBackend(API, API.ports().get(0), null)), "cluster.local",
                "Kubernetes"));
        assertThat(l).containsEntry("destination_service", "api.example.com")
                .containsEntry("destination_service_namespace", "egress");
    }

    @Test
    void tcpToAServiceEntryIsLabelledWithItsHost() {
        Map<String, String> l = labels(IstioLabels.TCP_NAMES, IstioLabels.tcpValues(tunnel(toEntry(API)),
                new TcpOutcome(1_000_000_000L), "cluster.local", "Kubernetes"));
        assertThat(l).containsEntry("destination_service", "api.example.com")
                .containsEntry("destination_service_name", "api.example.com")
                .containsEntry("destination_service_namespace", "egress");
    }

    @Test
    void theRecordingCacheTellsServiceEntriesApart() {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        // same thread, same (absent) pod, one entry after the other: two series, not one
        filter.onComplete(request(toEntry(API), new RouteSelection.ServiceEntryBackend(API, API.ports().get(0), null)));
        filter.onComplete(request(toEntry(OTHER), new RouteSelection.ServiceEntryBackend(OTHER, OTHER.ports().get(0), null)));
        filter.onComplete(request(toEntry(API), new RouteSelection.ServiceEntryBackend(API, API.ports().get(0), null)));
        String text = metrics.scrape();
        assertThat(text).containsPattern("istio_requests_total\\{.*destination_service=\"api.example.com\".*\\} 2.0")
                .containsPattern("istio_requests_total\\{.*destination_service=\"other.example.com\".*\\} 1.0");
        assertThat(metrics.seriesCount()).isEqualTo(2);
    }
}
