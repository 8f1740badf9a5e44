package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TcpKeepaliveSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MeshConfigTranslatorTest {
    private static final SourceRef FILE = new SourceRef("mesh.yaml", 0);

    private static MeshConfigSpec parse(String yaml, Diagnostics d) {
        return MeshConfigTranslator.parse(yaml, FILE, null, "", d);
    }

    private static MeshConfigSpec ok(String yaml) {
        Diagnostics d = new Diagnostics();
        MeshConfigSpec m = parse(yaml, d);
        assertThat(d.hasErrors()).as(d.problems().toString()).isFalse();
        assertThat(m).isNotNull();
        return m;
    }

    @Test
    void everyFieldOfAFullMeshConfig() {
        MeshConfigSpec m = ok("""
                trustDomain: example.org
                trustDomainAliases: [old.example.org, cluster.local]
                rootNamespace: istio-config
                accessLogFile: /dev/stdout
                accessLogEncoding: JSON
                accessLogFormat: "[%START_TIME%] %REQ(:METHOD)%\\n"
                enableTracing: false
                enablePrometheusMerge: true
                defaultConfig:
                  discoveryAddress: istiod.istio-system.svc:15012
                  tracing: {sampling: 12.5}
                  gatewayTopology: {numTrustedProxies: 2}
                pathNormalization: {normalization: MERGE_SLASHES}
                defaultHttpRetryPolicy: {attempts: 3, perTryTimeout: 1.5s, retryOn: "connect-failure,503"}
                defaultProviders:
                  metrics: [prometheus]
                  tracing: [otel]
                  accessLogging: [envoy, file-log]
                extensionProviders:
                - name: ext-http
                  envoyExtAuthzHttp:
                    service: authz.foo.svc.cluster.local
                    port: 8000
                    timeout: 250ms
                    pathPrefix: /check
                    failOpen: true
                    statusOnError: "503"
                    includeRequestHeadersInCheck: [X-Ext-Authz, cookie]
                    includeAdditionalHeadersInCheck: {x-added: "yes"}
                    includeRequestBodyInCheck: {maxRequestBytes: 4096, allowPartialMessage: true}
                    headersToUpstreamOnAllow: [x-user]
                    headersToDownstreamOnAllow: [set-cookie]
                    headersToDownstreamOnDeny: [x-reason, content-type]
                - name: ext-grpc
                  envoyExtAuthzGrpc: {service: foo/authz-grpc, port: 9000}
                - name: zipkin
                  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 100}
                - name: otel
                  opentelemetry:
                    service: otel.observability.svc.cluster.local
                    port: 4318
                    http: {path: /v1/traces, timeout: 3s, headers: [{name: x-key, value: abc}]}
                - name: file-log
                  envoyFileAccessLog: {path: /dev/stdout, logFormat: {labels: {method: "%REQ(:METHOD)%", code: 1}}}
                - name: prom
                  prometheus: {}
                - name: sd
                  stackdriver: {}
                """);
        assertThat(m.source()).isEqualTo(FILE);
        assertThat(m.trustDomain()).isEqualTo("example.org");
        assertThat(m.trustDomainAliases()).containsExactly("old.example.org", "cluster.local");
        assertThat(m.rootNamespace()).isEqualTo("istio-config");
        assertThat(m.accessLogFile()).isEqualTo("/dev/stdout");
        assertThat(m.accessLogEncoding()).isEqualTo(MeshConfigSpec.AccessLogEncoding.JSON);
        assertThat(m.accessLogFormat()).isEqualTo("[%START_TIME%] %REQ(:METHOD)%\n");
        assertThat(m.enableTracing()).isFalse();
        assertThat(m.tracingSampling()).isEqualTo(12.5);
        assertThat(m.numTrustedProxies()).isEqualTo(2);
        assertThat(m.pathNormalization()).isEqualTo(MeshConfigSpec.PathNormalization.MERGE_SLASHES);
        assertThat(m.defaultHttpRetryPolicy()).isEqualTo(
                new MeshConfigSpec.HttpRetry(3, Duration.ofMillis(1500), "connect-failure,503"));
        assertThat(m.defaultProviders()).isEqualTo(new MeshConfigSpec.DefaultProviders(List.of("prometheus"),
                List.of("otel"), List.of("envoy", "file-log")));
        assertThat(m.extensionProviders()).extracting(ExtensionProviderSpec::name)
                .containsExactly("ext-http", "ext-grpc", "zipkin", "otel", "file-log", "prom", "sd");
        assertThat(m.provider("ext-http")).isEqualTo(new ExtensionProviderSpec.EnvoyExtAuthzHttp("ext-http",
                "authz.foo.svc.cluster.local", 8000, Duration.ofMillis(250), "/check", true, 503,
                List.of("x-ext-authz", "cookie"), Map.of("x-added", "yes"),
                new ExtensionProviderSpec.RequestBody(4096, true, false), List.of("x-user"), List.of("set-cookie"),
                List.of("x-reason", "content-type")));
        assertThat(m.provider("ext-grpc")).isEqualTo(new ExtensionProviderSpec.EnvoyExtAuthzGrpc("ext-grpc",
                "foo/authz-grpc", 9000, Duration.ofSeconds(600), false, 403, null));
        assertThat(m.provider("zipkin")).isEqualTo(new ExtensionProviderSpec.Zipkin("zipkin",
                "zipkin.istio-system.svc.cluster.local", 9411, 100, false));
        assertThat(m.provider("otel")).isEqualTo(new ExtensionProviderSpec.OpenTelemetry("otel",
                "otel.observability.svc.cluster.local", 4318, 0, "/v1/traces", Duration.ofSeconds(3), Map.of("x-key", "abc")));
        assertThat(m.provider("file-log")).isEqualTo(new ExtensionProviderSpec.EnvoyFileAccessLog("file-log",
                "/dev/stdout", null, Map.of("method", "%REQ(:METHOD)%", "code", "1")));
        assertThat(m.provider("prom")).isEqualTo(new ExtensionProviderSpec.Prometheus("prom"));
        assertThat(m.provider("sd")).isEqualTo(new ExtensionProviderSpec.Unsupported("sd", "stackdriver"));
        assertThat(m.provider("nope")).isNull();
    }

    @Test
    void anEmptyDocumentIsAllDefaults() {
        MeshConfigSpec m = ok("# nothing set\n");
        assertThat(m).isEqualTo(new MeshConfigSpec(FILE, null, List.of(), null, List.of(),
                MeshConfigSpec.DefaultProviders.NONE, null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null,
                null, null, null));
        assertThat(ok("pathNormalization: {normalization: DEFAULT}").pathNormalization())
                .isEqualTo(MeshConfigSpec.PathNormalization.BASE);
        assertThat(ok("accessLogFile: \"\"").accessLogFile()).isNull();
    }

    static Stream<Arguments> durations() {
        return Stream.of(Arguments.of("1s", Duration.ofSeconds(1)), Arguments.of("0.5s", Duration.ofMillis(500)),
                Arguments.of("250ms", Duration.ofMillis(250)), Arguments.of("1m30s", Duration.ofSeconds(90)),
                Arguments.of("2h", Duration.ofHours(2)), Arguments.of("100us", Duration.ofNanos(100_000)),
                Arguments.of("5", null), Arguments.of("1 s", null), Arguments.of("-1s", null), Arguments.of("s", null));
    }

    @ParameterizedTest
    @MethodSource("durations")
    void durationsAreReadAsIstioReadsThem(String text, Duration expected) {
        assertThat(MeshConfigTranslator.parseDuration(text)).isEqualTo(expected);
    }

    /** Bad input: the whole mesh config is rejected, with the field and the reason. */
    static Stream<Arguments> bad() {
        return Stream.of(
                Arguments.of("trustDomain: [a]", "mesh.yaml: MeshConfig -: trustDomain: trustDomain: [\"a\"] (expected: a string)"),
                Arguments.of("trustDomainAliases: a.org", "trustDomainAliases: trustDomainAliases: a.org (expected: a list)"),
                Arguments.of("rootNamespace: Istio_System", "rootNamespace: rootNamespace: Istio_System (expected: a DNS-1123 label"),
                Arguments.of("accessLogEncoding: XML", "accessLogEncoding: accessLogEncoding: \"XML\" (expected: TEXT or JSON)"),
                Arguments.of("enableTracing: \"yes\"", "enableTracing: enableTracing: \"yes\" (expected: true or false)"),
                Arguments.of("defaultConfig: {tracing: {sampling: 101}}",
                        "defaultConfig.tracing.sampling: sampling: 101 (expected: a percentage from 0.0 to 100.0)"),
                Arguments.of("defaultConfig: {gatewayTopology: {numTrustedProxies: -1}}",
                        "defaultConfig.gatewayTopology.numTrustedProxies: numTrustedProxies: -1 (expected: 0-2147483647)"),
                Arguments.of("pathNormalization: {normalization: LOWERCASE}",
                        "pathNormalization.normalization: normalization: \"LOWERCASE\" (expected: DEFAULT, NONE, BASE"),
                Arguments.of("defaultHttpRetryPolicy: {attempts: 2, perTryTimeout: 10}",
                        "defaultHttpRetryPolicy.perTryTimeout: perTryTimeout: 10 (expected: a duration"),
                Arguments.of("extensionProviders: [{envoyExtAuthzHttp: {service: a, port: 80}}]",
                        "extensionProviders[0].name: name: missing (expected: a provider name)"),
                Arguments.of("extensionProviders: [{name: a, prometheus: {}}, {name: a, prometheus: {}}]",
                        "extensionProviders[1].name: name: a (expected: unique among extensionProviders)"),
                Arguments.of("extensionProviders: [{name: a}]",
                        "extensionProviders[0]: extensionProviders[0]: no provider (expected: exactly one provider kind"),
                Arguments.of("extensionProviders: [{name: a, prometheus: {}, zipkin: {service: z, port: 1}}]",
                        "extensionProviders[0]: extensionProviders[0]: prometheus, zipkin (expected: exactly one provider kind"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {port: 80}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.service: service: missing (expected: a hostname"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 0}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.port: port: 0 (expected: 1-65535)"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzGrpc: {service: s, port: 90, timeout: soon}}]",
                        "extensionProviders[0].envoyExtAuthzGrpc.timeout: timeout: \"soon\" (expected: a duration"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, statusOnError: teapot}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.statusOnError: statusOnError: \"teapot\" (expected: an HTTP status 200-599)"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, pathPrefix: check}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.pathPrefix: pathPrefix: check (expected: a path starting with /)"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, headersToUpstreamOnAllow: [\"x y\"]}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.headersToUpstreamOnAllow[0]: headersToUpstreamOnAllow[0]: x y (expected: a header name)"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, failOpen: 1}}]",
                        "extensionProviders[0].envoyExtAuthzHttp.failOpen: failOpen: 1 (expected: true or false)"),
                Arguments.of("connectTimeout: 10", "connectTimeout: connectTimeout: 10 (expected: a duration"),
                Arguments.of("connectTimeout: 0s", "connectTimeout: connectTimeout: \"0s\" (expected: a duration from 1ms to 1h"),
                Arguments.of("connectTimeout: 2h", "connectTimeout: connectTimeout: \"2h\" (expected: a duration from 1ms to 1h"),
                Arguments.of("connectTimeout: 1500us", "connectTimeout: connectTimeout: \"1500us\" (expected: a duration from 1ms to 1h"),
                Arguments.of("h2UpgradePolicy: SOMETIMES", "h2UpgradePolicy: h2UpgradePolicy: \"SOMETIMES\" (expected: DO_NOT_UPGRADE or UPGRADE)"),
                Arguments.of("h2UpgradePolicy: 1", "h2UpgradePolicy: h2UpgradePolicy: 1 (expected: DO_NOT_UPGRADE or UPGRADE)"),
                Arguments.of("tcpKeepalive: 30s", "tcpKeepalive: tcpKeepalive: 30s (expected: an object)"),
                Arguments.of("tcpKeepalive: {probes: -1}", "tcpKeepalive.probes: probes: -1 (expected: 0-2147483647)"),
                Arguments.of("tcpKeepalive: {time: often}", "tcpKeepalive.time: time: \"often\" (expected: a duration"),
                Arguments.of("tcpKeepalive: {interval: 0s}", "tcpKeepalive.interval: interval: \"0s\" (expected: a duration of at least 1ms"),
                Arguments.of("tcpKeepalive: {idle: 5s}", "tcpKeepalive.idle: idle: unknown field (expected: one of interval, probes, time)"),
                Arguments.of("localityLbSetting: {enabled: maybe}", "localityLbSetting.enabled: enabled: \"maybe\" (expected: true or false)"),
                Arguments.of("localityLbSetting: {distribute: [{from: us-east/*, to: {us-east/*: 60, us-west/*: 30}}]}",
                        "localityLbSetting.distribute[0].to: to: 90 (expected: weights summing to 100)"),
                Arguments.of("localityLbSetting: {failover: [{from: us-east, to: us-east}]}",
                        "localityLbSetting.failover[0].to: to: us-east (expected: a region other than from)"),
                Arguments.of("localityLbSetting: {failover: [{from: a, to: b}], distribute: [{from: a, to: {b: 100}}]}",
                        "localityLbSetting: localityLbSetting: failover and distribute (expected: only one of them"),
                Arguments.of("[1, 2]", "mesh: [1,2] (expected: a MeshConfig object)"),
                Arguments.of("trustDomain: a\ntrustDomain: b", "mesh.yaml:2: MeshConfig -: -: not valid YAML: Duplicate field 'trustDomain'"),
                Arguments.of("a: [", "mesh.yaml:1: MeshConfig -: -: not valid YAML"));
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
            "trustDomain: a.org | false",
            "h2UpgradePolicy: DO_NOT_UPGRADE | false",
            "h2UpgradePolicy: UPGRADE | true"})
    void h2UpgradePolicyIsRead(String yaml, boolean upgrade) {
        assertThat(ok(yaml).h2Upgrade()).isEqualTo(upgrade);
    }

    /** The upstream defaults: connectTimeout, tcpKeepalive, localityLbSetting (as written; absent is null). */
    static Stream<Arguments> upstreamDefaults() {
        return Stream.of(
                Arguments.of("trustDomain: a.org", null, null, null),
                Arguments.of("connectTimeout: 250ms", Duration.ofMillis(250), null, null),
                Arguments.of("connectTimeout: 1.5s", Duration.ofMillis(1500), null, null),
                Arguments.of("connectTimeout: 1h", Duration.ofHours(1), null, null),
                Arguments.of("tcpKeepalive: {}", null, new TcpKeepaliveSpec(0, null, null), null),
                Arguments.of("tcpKeepalive: {probes: 3, time: 60s, interval: 10s}", null,
                        new TcpKeepaliveSpec(3, Duration.ofSeconds(60), Duration.ofSeconds(10)), null),
                Arguments.of("tcpKeepalive: {time: 2m}", null, new TcpKeepaliveSpec(0, Duration.ofMinutes(2), null), null),
                Arguments.of("localityLbSetting: {enabled: false}", null, null,
                        new LocalityLbSpec(false, List.of(), List.of(), List.of())),
                Arguments.of("localityLbSetting: {}", null, null, new LocalityLbSpec(true, List.of(), List.of(), List.of())),
                Arguments.of("localityLbSetting: {failover: [{from: us-east, to: eu-west}]}", null, null,
                        new LocalityLbSpec(true, List.of(new LocalityLbSpec.Failover("us-east", "eu-west")), List.of(), List.of())),
                Arguments.of("localityLbSetting: {failoverPriority: [topology.kubernetes.io/region, topology.kubernetes.io/zone]}",
                        null, null, new LocalityLbSpec(true, List.of(),
                                List.of("topology.kubernetes.io/region", "topology.kubernetes.io/zone"), List.of())),
                Arguments.of("localityLbSetting: {distribute: [{from: us-east/*, to: {us-east/*: 80, us-west/*: 20}}]}",
                        null, null, new LocalityLbSpec(true, List.of(), List.of(), List.of(new LocalityLbSpec.Distribute(
                                "us-east/*", new java.util.LinkedHashMap<>(Map.of("us-east/*", 80, "us-west/*", 20)))))),
                Arguments.of("connectTimeout: 3s\ntcpKeepalive: {probes: 9}\nlocalityLbSetting: {enabled: true}",
                        Duration.ofSeconds(3), new TcpKeepaliveSpec(9, null, null),
                        new LocalityLbSpec(true, List.of(), List.of(), List.of())));
    }

    @ParameterizedTest
    @MethodSource("upstreamDefaults")
    void upstreamDefaultsAreReadAsWritten(String yaml, Duration connect, TcpKeepaliveSpec keepalive, LocalityLbSpec locality) {
        MeshConfigSpec m = ok(yaml);
        assertThat(m.connectTimeout()).isEqualTo(connect);
        assertThat(m.tcpKeepalive()).isEqualTo(keepalive);
        assertThat(m.localityLbSetting()).isEqualTo(locality);
        // what applies when a field is absent: Istio's DefaultMeshConfig (10 s; locality enabled)
        assertThat(m.effectiveConnectTimeout()).isEqualTo(connect != null ? connect : Duration.ofSeconds(10));
        assertThat(m.effectiveLocalityLbSetting()).isEqualTo(locality != null ? locality
                : new LocalityLbSpec(true, List.of(), List.of(), List.of()));
    }

    @ParameterizedTest
    @MethodSource("bad")
    void badInputIsRejectedWithTheField(String yaml, String problem) {
        Diagnostics d = new Diagnostics();
        assertThat(parse(yaml, d)).isNull();
        assertThat(d.problems()).anySatisfy(p -> {
            assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(p.toString()).contains(problem);
        });
    }

    @Test
    void inAConfigMapTheFieldsAreUnderDataMesh() {
        Diagnostics d = new Diagnostics();
        SourceRef cm = new SourceRef("istio.yaml", 3);
        NamespacedName name = new NamespacedName("istio-system", "istio");
        assertThat(MeshConfigTranslator.parse("trustDomainAliases: 7", cm, name, "data.mesh", d)).isNull();
        assertThat(d.problems()).extracting(Object::toString).containsExactly(
                "istio.yaml:3: MeshConfig istio-system/istio: data.mesh.trustDomainAliases: trustDomainAliases: 7 (expected: a list)");

        Diagnostics d2 = new Diagnostics();
        assertThat(MeshConfigTranslator.parse("a: 1\nb: [", cm, name, "data.mesh", d2)).isNull();
        assertThat(d2.problems().get(0).toString()).startsWith(
                "istio.yaml:3: MeshConfig istio-system/istio: data.mesh: line ");
    }

    /** Warnings and notes keep the mesh config. */
    static Stream<Arguments> warnings() {
        return Stream.of(
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, retries: 3}}]",
                        "WARNING", "extensionProviders[0].envoyExtAuthzHttp.retries: retries: unknown field, ignored"),
                Arguments.of("extensionProviders: [{name: a, envoyExtAuthzHttp: {service: s, port: 9, includeHeadersInCheck: [x]}}]",
                        "WARNING", "includeHeadersInCheck: deprecated by Istio and not read"),
                Arguments.of("extensionProviders: [{name: a, skywalking: {service: s, port: 9}}]",
                        "NOTE", "extensionProviders[0].skywalking: skywalking providers are not supported"),
                Arguments.of("extensionProviders: [{name: a, fancyNewThing: {}}]",
                        "WARNING", "extensionProviders[0].fancyNewThing: fancyNewThing: unknown provider kind"),
                Arguments.of("defaultProviders: {tracing: [nowhere]}",
                        "WARNING", "defaultProviders.tracing[0]: tracing[0]: nowhere (expected: the name of an extensionProviders entry)"));
    }

    @ParameterizedTest
    @MethodSource("warnings")
    void notesAndWarningsKeepTheConfig(String yaml, String severity, String problem) {
        Diagnostics d = new Diagnostics();
        assertThat(parse(yaml, d)).isNotNull();
        assertThat(d.hasErrors()).isFalse();
        assertThat(d.problems()).anySatisfy(p -> {
            assertThat(p.severity().name()).isEqualTo(severity);
            assertThat(p.toString()).contains(problem);
        });
    }
}
