package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.request.RouteSelection;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** backendRefs naming ServiceEntries: which entry and port each resolves to, or why it cannot be used. */
class ServiceEntryBackendsTest {
    static ServiceEntrySpec entry(String ns, String name, String host, String... exportTo) {
        return new ServiceEntrySpec(new NamespacedName(ns, name), Map.of(), List.of(host),
                List.of(HostPort.parseIp("240.240.0.1")), List.of(new ServicePortSpec("https", 443, 443, null, "tls")),
                ServiceEntrySpec.Location.MESH_EXTERNAL, ServiceEntrySpec.Resolution.DNS, List.of(), null, SourceRef.NONE,
                List.of(exportTo));
    }

    static final List<ServiceEntrySpec> ENTRIES = List.of(
            entry("egress", "api", "api.example.com"),
            entry("apps", "api-local", "api.example.com"),
            entry("egress", "other", "other.example.com"),
            entry("granted", "shared", "shared.example.com"),
            // exportTo: only the first two are visible to a route in apps
            entry("egress", "to-apps", "exp.example.com", "apps"),
            entry("egress", "to-all", "all.example.com", "*"),
            entry("egress", "private", "private.example.com", "."),
            entry("egress", "hidden", "hidden.example.com", "~"),
            entry("egress", "to-others", "exp2.example.com", "web", "shop"),
            // a private entry in apps wins over the exported one of egress for a route in apps
            entry("egress", "dup-exported", "dup.example.com"),
            entry("apps", "dup-private", "dup.example.com", "."));

    static final List<ReferenceGrantSpec> GRANTS = List.of(new ReferenceGrantSpec(new NamespacedName("granted", "g"),
            List.of(new ReferenceGrantSpec.From("gateway.networking.k8s.io", "HTTPRoute", "apps")),
            List.of(new ReferenceGrantSpec.To("networking.istio.io", "ServiceEntry", null)), SourceRef.NONE));

    @ParameterizedTest(name = "{0} {1}/{2}:{3}")
    @CsvSource(delimiter = '|', textBlock = """
            Hostname     | apps    | api.example.com   | 443 | apps/api-local
            Hostname     | apps    | other.example.com | 443 | egress/other
            Hostname     | apps    | none.example.com  | 443 | backendRef Hostname none.example.com is no host of any ServiceEntry
            Hostname     | apps    | other.example.com | 80  | backendRef Hostname other.example.com has no port 80
            Hostname     | apps    | other.example.com | 0   | has no port (expected: port is required)
            Hostname     | apps    | exp.example.com   | 443 | egress/to-apps
            Hostname     | apps    | all.example.com   | 443 | egress/to-all
            Hostname     | apps    | private.example.com | 443 | backendRef Hostname private.example.com is no host of any ServiceEntry exported to namespace apps
            Hostname     | apps    | hidden.example.com | 443 | is no host of any ServiceEntry exported to namespace apps
            Hostname     | apps    | exp2.example.com  | 443 | is no host of any ServiceEntry exported to namespace apps
            Hostname     | apps    | dup.example.com   | 443 | apps/dup-private
            ServiceEntry | apps    | api-local         | 443 | apps/api-local
            ServiceEntry | egress  | api               | 443 | backendRef ServiceEntry egress/api is in another namespace and no ReferenceGrant allows it
            ServiceEntry | granted | shared            | 443 | granted/shared
            ServiceEntry | apps    | missing           | 443 | backendRef ServiceEntry apps/missing does not exist
            """)
    void resolve(String kind, String namespace, String name, int port, String expected) {
        BackendRefSpec ref = new BackendRefSpec("networking.istio.io", kind, namespace, name, port, 1, List.of());
        HttpRouteSpec route = new HttpRouteSpec(new NamespacedName("apps", "r"), Instant.EPOCH, List.of(), List.of(),
                SourceRef.NONE);
        assertThat(ServiceEntryBackends.isServiceEntry(ref)).isTrue();
        Object out = ServiceEntryBackends.resolve(ref, route, ENTRIES, GRANTS);
        if (out instanceof RouteSelection.ServiceEntryBackend b) {
            assertThat(b.entry().name().toString()).isEqualTo(expected);
            assertThat(b.port().port()).isEqualTo(443);
            assertThat(b.original()).as("a route names no original destination").isNull();
        } else {
            assertThat((String) out).contains(expected);
        }
    }

    /** A ReferenceGrant names the route's kind: one from HTTPRoutes does not let a GRPCRoute in (as for Service backends). */
    @ParameterizedTest(name = "{0} with a grant from {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
            HTTPRoute | HTTPRoute | granted/shared
            GRPCRoute | HTTPRoute | backendRef ServiceEntry granted/shared is in another namespace and no ReferenceGrant allows it
            GRPCRoute | GRPCRoute | granted/shared
            """)
    void theGrantMustNameTheRoutesKind(String routeKind, String grantedKind, String expected) {
        BackendRefSpec ref = new BackendRefSpec("networking.istio.io", "ServiceEntry", "granted", "shared", 443, 1, List.of());
        HttpRouteSpec route = new HttpRouteSpec(new NamespacedName("apps", "r"), Instant.EPOCH, List.of(), List.of(),
                SourceRef.NONE, routeKind);
        List<ReferenceGrantSpec> grants = List.of(new ReferenceGrantSpec(new NamespacedName("granted", "g"),
                List.of(new ReferenceGrantSpec.From("gateway.networking.k8s.io", grantedKind, "apps")),
                List.of(new ReferenceGrantSpec.To("networking.istio.io", "ServiceEntry", null)), SourceRef.NONE));
        Object out = ServiceEntryBackends.resolve(ref, route, ENTRIES, grants);
        assertThat(out instanceof RouteSelection.ServiceEntryBackend b ? b.entry().name().toString() : (String) out)
                .isEqualTo(expected);
    }
}
