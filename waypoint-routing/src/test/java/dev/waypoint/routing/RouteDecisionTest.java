package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteMatchSpec.PathMatch;
import dev.waypoint.model.gateway.RouteMatchSpec.PathType;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.Target;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The route stage's pure decision, as a truth table over one route (no context, no sockets). */
class RouteDecisionTest {
    private static final ServiceSpec WEB = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.1")), List.of(new ServicePortSpec("http", 80, 8080, null, null),
            new ServicePortSpec("admin", 9000, 9000, null, null)), Map.of("app", "web"), SourceRef.NONE);
    private static final ServiceSpec V2 = new ServiceSpec(new NamespacedName("apps", "web-v2"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.2")), List.of(new ServicePortSpec("http", 80, 8080, null, null)),
            Map.of("app", "web", "version", "v2"), SourceRef.NONE);

    private static RouteRuleSpec rule(String name, PathType type, String path, List<HttpFilterSpec> filters, List<BackendRefSpec> backends) {
        return new RouteRuleSpec(name, List.of(new RouteMatchSpec(new PathMatch(type, path), List.of(), List.of(), null)),
                filters, backends, null, null);
    }

    private static final RouteTable TABLE = new HttpRouteCompiler().compile(ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").services(List.of(WEB, V2)).httpRoutes(List.of(new HttpRouteSpec(new NamespacedName("apps", "web"), null,
                    List.of(new ParentRefSpec("", "Service", "apps", "web", 80, null)), List.of(
                    rule("v2", PathType.PATH_PREFIX, "/v2", List.of(), List.of(new BackendRefSpec("", "Service", "apps", "web-v2", 80, 1, List.of()))),
                    rule("moved", PathType.PATH_PREFIX, "/old", List.of(new HttpFilterSpec.RequestRedirect(null, "new.example", 0,
                            new HttpFilterSpec.PathModifier(HttpFilterSpec.PathModifierType.REPLACE_PREFIX_MATCH, "/new"), 301)), List.of()),
                    rule("broken", PathType.EXACT, "/broken", List.of(), List.of(new BackendRefSpec("", "Service", "apps", "gone", 80, 1, List.of())))),
                    SourceRef.NONE))).build(), new Diagnostics());

    @ParameterizedTest(name = "{0} port {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "/v2/x      | 80   | forward web.apps.v2 -> web-v2",
            "/old/a?b=1 | 80   | answer 301 web.apps.moved location=http://new.example/new/a?b=1",
            "/broken    | 80   | answer 500 web.apps.broken",
            "/elsewhere | 80   | answer 404 null",
            "/v2/x      | 9000 | default",     // the parentRef names port 80 only
    })
    void decisions(String path, int port, String expected) {
        Target target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:" + port), WEB, WEB.port(port));
        var request = new TestRequests.Request("GET", path, "web.apps", TestRequests.Headers.of(),
                new SpiffeId("cluster.local", "apps", "client"));
        assertThat(render(RouteDecision.decide(TABLE, target, request, BackendPicker.seeded(1)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "pod target {0}")
    @CsvSource({"/v2/x", "/elsewhere"})
    void aPodAddressedRequestIsNotRouted(String path) {
        PodSpec pod = new PodSpec(new NamespacedName("apps", "web-v1"), Map.of("app", "web"), "web", HostPort.parseIp("10.0.0.1"),
                true, Map.of(), SourceRef.NONE);
        Target target = new Target.WorkloadTarget(HostPort.parseAuthority("10.0.0.1:8080"), pod, dev.waypoint.model.mesh.AppProtocol.HTTP);
        assertThat(RouteDecision.decide(TABLE, target, TestRequests.get(path), BackendPicker.seeded(1)))
                .isInstanceOf(RouteDecision.UseDefault.class);
    }

    private static String render(RouteDecision d) {
        if (d instanceof RouteDecision.Forward f) {
            return "forward " + f.rule().routeName() + " -> " + ((dev.waypoint.model.request.RouteSelection.ServiceBackend) f.backend().target()).service().name().name();
        }
        if (d instanceof RouteDecision.Answer a) {
            return "answer " + a.rejection().reason().status() + " " + a.routeName()
                    + (a.headers().isEmpty() ? "" : " location=" + a.headers().get("location"));
        }
        return "default";
    }
}
