package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.request.RequestContext;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Telemetry API's CEL: Envoy's attribute names over one finished request (reviews, GET
 * /reviews/1 from curl, {@code x-user: jason}), as an access-log filter sees them; and the
 * expressions that do not compile.
 */
class TelemetryCelTest {
    record Case(String expression, int status, boolean expected) {
        @Override
        public String toString() {
            return expression + " @" + status + " → " + expected;
        }
    }

    static Stream<Case> filters() {
        return Stream.of(
                new Case("response.code >= 400", 200, false),
                new Case("response.code >= 400", 503, true),
                new Case("request.headers['x-user'] == 'jason'", 200, true),
                new Case("request.headers['user-agent'].startsWith('curl/')", 200, true),
                new Case("request.url_path == '/reviews/1' && request.method == 'GET'", 200, true),
                new Case("request.path.startsWith('/ratings')", 200, false),
                new Case("request.host == 'reviews.demo:9080'", 200, true),
                new Case("request.id == '6f1c0f6c'", 200, true),
                new Case("source.principal == 'spiffe://cluster.local/ns/demo/sa/curl'", 200, true),
                new Case("source.address == '10.244.0.5'", 200, true),
                new Case("upstream.address == '10.244.0.12:9080'", 200, true),
                new Case("response.flags == 'UH'", 503, true),
                new Case("response.size > 100", 200, true),
                new Case("connection.mtls", 200, true),
                new Case("request.duration > duration('1ms')", 200, true),
                new Case("'x-debug' in request.headers", 200, false),
                new Case("has(request.host) && !has(request.headers.x_debug)", 200, true),
                new Case("request.headers.exists(h, h == 'x-user')", 200, true),
                // evaluation errors (a missing key) are false, as Envoy's filter does not log then
                new Case("request.headers['x-missing'] == 'a'", 200, false),
                // not a boolean: false
                new Case("response.code", 200, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("filters")
    void filterTable(Case c) {
        RequestContext r = Requests.finished(false, c.status(), c.status() == 503 ? "UH" : "-", 5, true);
        r.requestHeaders().set("x-user", "jason");

        assertThat(TelemetryCel.compile(c.expression()).test(TelemetryCel.activation(r))).isEqualTo(c.expected());
    }

    record Bad(String expression, String message) {
        @Override
        public String toString() {
            return expression;
        }
    }

    static Stream<Bad> bad() {
        return Stream.of(
                new Bad("response.code >=", "<input>:1:17: mismatched input '<EOF>'"),
                new Bad("nosuchvar == 1", "undeclared reference to 'nosuchvar'"),
                new Bad("request.headers[", "<input>:1:17: mismatched input '<EOF>'"),
                new Bad("size(1, 2, 3)", "found no matching overload"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bad")
    void expressionsThatDoNotCompileAreRefusedWithCelsMessage(Bad b) {
        assertThatThrownBy(() -> TelemetryCel.compile(b.expression())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(b.message());
    }

    @org.junit.jupiter.api.Test
    void anExpressionEvaluatesToAValue() throws Exception {
        RequestContext r = Requests.finished(false, 200, "-", 5, true);
        assertThat(TelemetryCel.compile("request.method + ' ' + request.url_path").eval(TelemetryCel.activation(r)))
                .isEqualTo("GET /reviews/1");
        assertThat(Map.of()).isEmpty();
    }

    record TcpCase(String expression, String label) {
        @Override
        public String toString() {
            return expression + " → " + label;
        }
    }

    /** A TCP tunnel's attributes (curl at 10.244.0.5:41000 → reviews 10.96.0.10:9080, relayed to 10.244.0.12:9080). */
    static Stream<TcpCase> tcpAttributes() {
        return Stream.of(
                new TcpCase("source.address", "10.244.0.5"),
                new TcpCase("source.port", "41000"),
                new TcpCase("source.principal", "spiffe://cluster.local/ns/demo/sa/curl"),
                new TcpCase("destination.address + ':' + string(destination.port)", "10.96.0.10:9080"),
                new TcpCase("upstream.address", "10.244.0.12:9080"),
                new TcpCase("connection.mtls", "true"),
                new TcpCase("connection.requested_server_name", ""),
                // a TCP connection has no request or response: an evaluation error, unknown in a label
                new TcpCase("request.host", "unknown"),
                new TcpCase("request.headers['x-user']", "unknown"),
                new TcpCase("string(response.code)", "unknown"),
                new TcpCase("has(request.host) ? 'http' : 'tcp'", "tcp"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tcpAttributes")
    void tcpTunnelAttributesAsALabelValue(TcpCase c) {
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        LabelPlan plan = LabelPlan.of(Map.of("x", TelemetryCel.compile(c.expression())), IstioLabels.TCP_NAMES);
        String[] values = plan.evaluate(TelemetryCel.tcpActivation(t.tunnel(), t.outcome()));
        java.util.List<String> names = java.util.List.of(plan.names());

        assertThat(values[names.indexOf("x")]).isEqualTo(c.label());
    }
}
