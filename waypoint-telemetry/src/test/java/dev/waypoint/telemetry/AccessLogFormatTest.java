package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Envoy's command operators, Istio's JSON default, custom formats, and the authz decision in the line. */
class AccessLogFormatTest {
    static final Instant END = Instant.parse("2026-12-01T09:30:00.112Z");

    static String render(AccessLogFormat f, RequestContext r) {
        return f.render(new LogEntries.Http(r, "cluster.local", END));
    }

    @Test
    void istiosJsonLineHasItsTwentyFourKeysSortedWithNumbersAndNulls() {
        String line = render(AccessLogFormat.ISTIO_JSON, Requests.finished(false, 200, "-", 12, true));
        assertThat(line).isEqualTo("{\"authority\":\"reviews.demo:9080\",\"bytes_received\":0,\"bytes_sent\":295,"
                + "\"connection_termination_details\":null,\"downstream_local_address\":\"10.96.0.10:9080\","
                + "\"downstream_remote_address\":\"10.244.0.5:41000\",\"duration\":12,\"method\":\"GET\","
                + "\"path\":\"/reviews/1\",\"protocol\":\"HTTP/1.1\",\"request_id\":\"6f1c0f6c\","
                + "\"requested_server_name\":null,\"response_code\":200,\"response_code_details\":\"via_upstream\","
                + "\"response_flags\":\"-\",\"route_name\":\"default\",\"start_time\":\"2026-12-01T09:30:00.100Z\","
                + "\"upstream_cluster\":\"inbound-vip|9080|http|reviews.demo.svc.cluster.local\","
                + "\"upstream_host\":\"10.244.0.12:9080\",\"upstream_local_address\":null,"
                + "\"upstream_service_time\":\"6\",\"upstream_transport_failure_reason\":null,"
                + "\"user_agent\":\"curl/8.5.0\",\"x_forwarded_for\":null}\n");
        assertThat(AccessLogFormat.ISTIO_JSON_FIELDS).hasSize(24);
    }

    @Test
    void aTcpTunnelInJsonHasCodeZeroAndNullRequestFields() {
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().flags("RBAC", "rbac_access_denied_matched_policy[apps/db, rule 2]");
        t.outcome().close(1_000_000_000L);
        String line = AccessLogFormat.ISTIO_JSON.render(new LogEntries.Tcp(t.tunnel(), t.outcome(), "cluster.local", END));
        assertThat(line).contains("\"method\":null", "\"response_code\":0", "\"response_flags\":\"RBAC\"",
                "\"connection_termination_details\":\"rbac_access_denied_matched_policy[ns[apps]-policy[db]-rule[2]]\"",
                "\"upstream_cluster\":\"inbound-vip|9080|tcp|reviews.demo.svc.cluster.local\"");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            literal percent            | 100%% %RESPONSE_CODE%                        | 100% 200
            header, lower or upper     | %REQ(User-Agent)% %REQ(x-request-id)%        | curl/8.5.0 6f1c0f6c
            alternative header         | %REQ(X-MISSING?USER-AGENT)%                  | curl/8.5.0
            length limit               | %REQ(USER-AGENT):4%                          | curl
            absent header is a dash    | [%REQ(X-NOPE)%]                              | [-]
            pseudo headers             | %REQ(:METHOD)% %REQ(:AUTHORITY)% %REQ(:PATH)% | GET reviews.demo:9080 /reviews/1
            durations                  | %DURATION% %RESPONSE_DURATION%               | 12 6
            attempts and route         | %UPSTREAM_REQUEST_ATTEMPT_COUNT% %ROUTE_NAME% | 1 default
            peer and remote address    | %DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% | spiffe://cluster.local/ns/demo/sa/curl 10.244.0.5
            authz did not run          | %AUTHZ_DECISION%                             | -
            """)
    void textOperators(String name, String format, String expected) {
        assertThat(render(AccessLogFormat.text(format), Requests.finished(false, 200, "-", 12, true)))
                .isEqualTo(expected + "\n");
    }

    @Test
    void aDeniedRequestNamesThePolicyAndRuleAsEnvoysRbacFilterDoes() {
        RequestContext r = Requests.finished(false, 403, "-", 1, false);
        r.outcome().flags(Rejection.Reason.RBAC_DENIED.flag(), Rejection.Reason.RBAC_DENIED.code());
        r.set(AuthzDecision.KEY, new AuthzDecision.Deny("demo/deny-curl", AuthorizationPolicySpec.Action.DENY, 1));
        assertThat(render(AccessLogFormat.ISTIO_TEXT, r))
                .contains("\" 403 RBAC rbac_access_denied_matched_policy[ns[demo]-policy[deny-curl]-rule[1]] - ");
        assertThat(render(AccessLogFormat.ISTIO_JSON, r)).contains(
                "\"response_code_details\":\"rbac_access_denied_matched_policy[ns[demo]-policy[deny-curl]-rule[1]]\"");
        assertThat(render(AccessLogFormat.text("%AUTHZ_DECISION%"), r))
                .isEqualTo("rbac_access_denied_matched_policy[ns[demo]-policy[deny-curl]-rule[1]]\n");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            demo/allow-curl | 0  | allowed[ns[demo]-policy[allow-curl]-rule[0]]
            no policy       | -1 | allowed[none]
            """)
    void anAllowedRequestNamesItsPolicyInAuthzDecision(String policy, int rule, String expected) {
        RequestContext r = Requests.finished(false, 200, "-", 1, true);
        r.set(AuthzDecision.KEY, new AuthzDecision.Allow(policy, rule));
        assertThat(render(AccessLogFormat.text("%AUTHZ_DECISION%"), r)).isEqualTo(expected + "\n");
        assertThat(render(AccessLogFormat.ISTIO_TEXT, r)).contains(" 200 - via_upstream - ");
    }

    @Test
    void aCustomJsonFormatKeepsLiteralsAndTypes() {
        AccessLogFormat f = AccessLogFormat.jsonObject(
                "{\"code\": \"%RESPONSE_CODE%\", \"who\": \"src=%DOWNSTREAM_PEER_URI_SAN%\", \"xff\": \"%REQ(X-FORWARDED-FOR)%\"}");
        assertThat(render(f, Requests.finished(false, 503, "UH", 1, false))).isEqualTo(
                "{\"code\":503,\"who\":\"src=spiffe://cluster.local/ns/demo/sa/curl\",\"xff\":null}\n");
    }

    @Test
    void jsonStringsAreEscaped() {
        RequestContext r = Requests.finished(false, 200, "-", 1, true);
        r.attributes().headers().set("user-agent", "a \"quoted\"\\\n agent");
        assertThat(render(AccessLogFormat.ISTIO_JSON, r)).contains("\"user_agent\":\"a \\\"quoted\\\"\\\\\\n agent\"");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            unknown operator        | %NOPE%                  | %NOPE%: unknown command operator
            unterminated            | [%START_TIME          | unterminated command operator at offset 1
            REQ without a header    | %REQ()%                 | %REQ()%: REQ needs a header name
            argument not taken      | %DURATION(X)%           | %DURATION(X)%: DURATION takes no argument
            bad length              | %REQ(A):x%              | %REQ(A):x%: length x is not a number
            custom START_TIME       | %START_TIME(%s)%        | custom START_TIME formats are not supported
            no closing parenthesis  | %REQ(X%                 | unterminated command operator
            """)
    void badTextFormatsAreRefusedWithTheReason(String name, String format, String message) {
        assertThatThrownBy(() -> AccessLogFormat.text(format)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            not an object      | ["%START_TIME%"]             | expected '{' at offset 0
            a number value     | {"a": 1}                     | expected a string at offset 6
            nested object      | {"a": {"b": "c"}}            | expected a string at offset 6
            duplicate key      | {"a": "x", "a": "y"}         | key "a" appears twice
            trailing text      | {"a": "x"} extra             | text after the JSON object
            bad operator       | {"a": "%NOPE%"}              | %NOPE%: unknown command operator
            """)
    void badJsonFormatsAreRefusedWithTheReason(String name, String format, String message) {
        assertThatThrownBy(() -> AccessLogFormat.jsonObject(format)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void textLinesEndInOneNewline() {
        assertThat(render(AccessLogFormat.text("%RESPONSE_CODE%"), Requests.finished(false, 200, "-", 1, true))).isEqualTo("200\n");
        assertThat(render(AccessLogFormat.text("%RESPONSE_CODE%\n"), Requests.finished(false, 200, "-", 1, true))).isEqualTo("200\n");
        assertThat(Map.of()).isEmpty();
    }
}
