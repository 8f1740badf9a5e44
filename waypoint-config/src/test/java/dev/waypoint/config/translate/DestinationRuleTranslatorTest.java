package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConsistentHashSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashOn;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashTable;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.Simple;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** DestinationRule YAML → {@link DestinationRuleSpec}: the problem table and full records. */
class DestinationRuleTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");

    private record Result(ResourceSet resources, List<String> problems) {}

    private static Result translate(String yaml) {
        try {
            Diagnostics d = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(
                    List.of(new WireObject(YAML.readTree(yaml), new SourceRef("m.yaml", 1))), d);
            return new Result(ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects),
                    d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final String HEAD = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: dr, namespace: ns1}
            spec:
            """;

    record Case(String name, String spec, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final String E = "m.yaml:1: DestinationRule ns1/dr: ";
    private static final String W = "m.yaml:1: warning: DestinationRule ns1/dr: ";

    static Stream<Case> cases() {
        return Stream.of(
                new Case("host only", "  host: b\n", true, List.of()),
                new Case("host missing", "  trafficPolicy: {}\n", false,
                        List.of(E + "spec.host: host: missing (expected: a Service host such as reviews or reviews.ns.svc.cluster.local)")),
                new Case("unknown spec field", "  host: b\n  trafficPolicies: {}\n", false,
                        List.of(E + "spec.trafficPolicies: trafficPolicies: unknown field (expected: one of exportTo, host, subsets, trafficPolicy, workloadSelector)")),
                new Case("bad simple", "  host: b\n  trafficPolicy: {loadBalancer: {simple: FASTEST}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.simple: simple: FASTEST (expected: one of UNSPECIFIED, LEAST_REQUEST, LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH)")),
                new Case("simple and hash", "  host: b\n  trafficPolicy: {loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.simple: simple: RANDOM (expected: only one of simple or consistentHash)")),
                new Case("two hash keys", "  host: b\n  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, httpHeaderName: x}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.consistentHash: consistentHash: httpHeaderName, useSourceIp (expected: exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName)")),
                new Case("maglev not prime", "  host: b\n  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize: 1000 (expected: a prime number)")),
                new Case("bad interval", "  host: b\n  trafficPolicy: {outlierDetection: {interval: 10}}\n", false,
                        List.of(E + "spec.trafficPolicy.outlierDetection.interval: interval: 10 (expected: a duration of at least 1ms such as 10s, 500ms or 1m30s)")),
                new Case("Go-style compound durations (time.ParseDuration, as istiod decodes them)", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 1m30s}, http: {idleTimeout: 1h0m0s}}, outlierDetection: {interval: 1.5s, baseEjectionTime: 2m0.5s}}\n", true,
                        List.of()),
                new Case("interval under 1ms (the CRD's duration(self) >= duration('1ms'))", "  host: b\n  trafficPolicy: {outlierDetection: {interval: 500us}}\n", false,
                        List.of(E + "spec.trafficPolicy.outlierDetection.interval: interval: 500us (expected: a duration of at least 1ms such as 10s, 500ms or 1m30s)")),
                new Case("percent over 100", "  host: b\n  trafficPolicy: {outlierDetection: {maxEjectionPercent: 150}}\n", false,
                        List.of(E + "spec.trafficPolicy.outlierDetection.maxEjectionPercent: maxEjectionPercent: 150 (expected: 0-100)")),
                new Case("connectionPool limits applied", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http2MaxRequests: 10, http1MaxPendingRequests: 1}}}\n", true,
                        List.of()),
                new Case("h2UpgradePolicy applied", "  host: b\n  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}\n", true,
                        List.of()),
                new Case("h2UpgradePolicy unknown value", "  host: b\n  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: ALWAYS}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: h2UpgradePolicy: ALWAYS (expected: one of DEFAULT, DO_NOT_UPGRADE, UPGRADE)")),
                new Case("useClientProtocol with UPGRADE (validateConnectionPool)", "  host: b\n  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.useClientProtocol: useClientProtocol: true (expected: not with h2UpgradePolicy UPGRADE, as Istio requires)")),
                new Case("useClientProtocol, maxConcurrentStreams applied", "  host: b\n  trafficPolicy: {connectionPool: {http: {useClientProtocol: true, maxConcurrentStreams: 10}}}\n", true,
                        List.of()),
                new Case("maxConcurrentStreams negative", "  host: b\n  trafficPolicy: {connectionPool: {http: {maxConcurrentStreams: -1}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.maxConcurrentStreams: maxConcurrentStreams: -1 (expected: 0-2147483647)")),
                new Case("tcp idleTimeout and maxConnectionDuration applied", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 1h, maxConnectionDuration: 30m}}}\n", true,
                        List.of()),
                new Case("tcp idleTimeout 0s disables it (as Istio's validation allows)", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 0s}}}\n", true,
                        List.of()),
                new Case("tcp maxConnectionDuration 0s", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {maxConnectionDuration: 0s}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration: maxConnectionDuration: 0s (expected: a duration of at least 1ms such as 10s, 500ms or 1m30s)")),
                new Case("connectionPool per-connection, retries, timeouts applied", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 250ms, tcpKeepalive: {probes: 3, time: 10s, interval: 5s}}, http: {maxRequestsPerConnection: 2, maxRetries: 1, idleTimeout: 30s}}}\n", true,
                        List.of()),
                new Case("connectionPool http2KeepAlive applied", "  host: b\n  trafficPolicy: {connectionPool: {http: {http2KeepAlive: {interval: 30s, timeout: 5s}}}}\n", true,
                        List.of()),
                new Case("connectionPool http2KeepAlive without timeout", "  host: b\n  trafficPolicy: {connectionPool: {http: {http2KeepAlive: {interval: 30s}}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout: timeout: missing (expected: a duration; Istio requires both interval and timeout)")),
                new Case("zoneAwareLbSetting not applied yet", "  host: b\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, zoneAwareLbSetting: {enabled: true}}}\n", true,
                        List.of(W + "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting: zoneAwareLbSetting is not applied by this waypoint yet")),
                new Case("backendUtilization not applied yet", "  host: b\n  trafficPolicy: {loadBalancer: {backendUtilization: {weightUpdatePeriod: 10s}}}\n", true,
                        List.of(W + "spec.trafficPolicy.loadBalancer.backendUtilization: backendUtilization is not applied by this waypoint yet (the default load balancing applies)")),
                new Case("backendUtilization with simple (CRD oneOf)", "  host: b\n  trafficPolicy: {loadBalancer: {simple: RANDOM, backendUtilization: {}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.backendUtilization: backendUtilization: with simple or consistentHash (expected: only one of simple, consistentHash or backendUtilization)",
                                W + "spec.trafficPolicy.loadBalancer.backendUtilization: backendUtilization is not applied by this waypoint yet (the default load balancing applies)")),
                new Case("outlierDetectionHttpErrorCodes not applied yet", "  host: b\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3, outlierDetectionHttpErrorCodes: [500, 503]}}\n", true,
                        List.of(W + "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes: outlierDetectionHttpErrorCodes is not applied by this waypoint yet: 5xx responses and gateway errors count, as without it")),
                new Case("connectionPool bad connectTimeout", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 0s}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.tcp.connectTimeout: connectTimeout: 0s (expected: a duration of at least 1ms such as 10s, 500ms or 1m30s)")),
                new Case("connectionPool bad keepalive field", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {tcpKeepalive: {count: 3}}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.count: count: unknown field (expected: one of interval, probes, time)")),
                new Case("connectionPool negative maxRetries", "  host: b\n  trafficPolicy: {connectionPool: {http: {maxRetries: -1}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.maxRetries: maxRetries: -1 (expected: 0-2147483647)")),
                new Case("connectionPool unknown field", "  host: b\n  trafficPolicy: {connectionPool: {http: {maxRequests: 3}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.http.maxRequests: maxRequests: unknown field (expected: one of h2UpgradePolicy, http1MaxPendingRequests, http2KeepAlive, http2MaxRequests, idleTimeout, maxConcurrentStreams, maxRequestsPerConnection, maxRetries, useClientProtocol)")),
                new Case("connectionPool negative", "  host: b\n  trafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}\n", false,
                        List.of(E + "spec.trafficPolicy.connectionPool.tcp.maxConnections: maxConnections: -1 (expected: 0-2147483647)")),
                new Case("locality applied", "  host: b\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, localityLbSetting: {enabled: true, failover: [{from: us-west, to: us-east}]}}}\n", true,
                        List.of()),
                new Case("locality failover to itself", "  host: b\n  trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: us-west, to: us-west}]}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].to: to: us-west (expected: a region other than from)")),
                new Case("locality distribute not 100", "  host: b\n  trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: us-west/*, to: {us-west/*: 70, us-east/*: 20}}]}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: to: 90 (expected: weights summing to 100)")),
                new Case("locality failover and distribute", "  host: b\n  trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}], distribute: [{from: a/*, to: {a/*: 100}}]}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.localityLbSetting: localityLbSetting: failover and distribute (expected: only one of them, as Istio requires)")),
                new Case("locality unknown field", "  host: b\n  trafficPolicy: {loadBalancer: {localityLbSetting: {failovers: []}}}\n", false,
                        List.of(E + "spec.trafficPolicy.loadBalancer.localityLbSetting.failovers: failovers: unknown field (expected: one of distribute, enabled, failover, failoverPriority)")),
                new Case("tls SIMPLE applied", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/ca.pem, sni: api.example.com, subjectAltNames: [api.example.com]}}\n", true,
                        List.of()),
                new Case("tls MUTUAL without a key", "  host: b\n  trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c.pem}}\n", false,
                        List.of(E + "spec.trafficPolicy.tls.privateKey: privateKey: missing (expected: a PEM file, required with mode MUTUAL)")),
                new Case("tls bad mode", "  host: b\n  trafficPolicy: {tls: {mode: STRICT}}\n", false,
                        List.of(E + "spec.trafficPolicy.tls.mode: mode: STRICT (expected: one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL)")),
                new Case("tls credentialName beside files", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca.pem}}\n", false,
                        List.of(E + "spec.trafficPolicy.tls.credentialName: credentialName: c (expected: no caCertificates, clientCertificate, privateKey or caCrl beside it, as Istio requires)")),
                new Case("tls SIMPLE credentialName applied", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, sni: api.example.com}}\n", true,
                        List.of()),
                new Case("tls MUTUAL credentialName needs no files", "  host: b\n  trafficPolicy: {tls: {mode: MUTUAL, credentialName: c}}\n", true,
                        List.of()),
                new Case("tls MUTUAL credentialName skipping verification", "  host: b\n  trafficPolicy: {tls: {mode: MUTUAL, credentialName: c, insecureSkipVerify: true}}\n", true,
                        List.of()),
                new Case("tls SIMPLE credentialName skipping verification", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, insecureSkipVerify: true}}\n", true,
                        List.of(W + "spec.trafficPolicy.tls.insecureSkipVerify: insecureSkipVerify: true beside credentialName with mode SIMPLE (Istio refuses this): the server is not verified, credentialName is not used")),
                new Case("tls skipping verification of named SANs", "  host: b\n  trafficPolicy: {tls: {mode: MUTUAL, credentialName: c, insecureSkipVerify: true, subjectAltNames: [a]}}\n", true,
                        List.of(W + "spec.trafficPolicy.tls.insecureSkipVerify: insecureSkipVerify: true beside subjectAltNames with mode MUTUAL (Istio refuses this): the server is not verified, subjectAltNames is not used")),
                new Case("tls skipping verification against a CA file", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /ca.pem, insecureSkipVerify: true}}\n", true,
                        List.of(W + "spec.trafficPolicy.tls.insecureSkipVerify: insecureSkipVerify: true beside caCertificates with mode SIMPLE (Istio refuses this): the server is not verified, caCertificates is not used")),
                new Case("tls empty values are not written", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, credentialName: '', caCertificates: '', caCrl: '', sni: ''}}\n", true,
                        List.of()),
                new Case("tls empty credentialName beside files", "  host: b\n  trafficPolicy: {tls: {mode: MUTUAL, credentialName: '', clientCertificate: /c.pem, privateKey: /k.pem}}\n", true,
                        List.of()),
                new Case("tls unknown field", "  host: b\n  trafficPolicy: {tls: {mode: SIMPLE, caCert: /x}}\n", false,
                        List.of(E + "spec.trafficPolicy.tls.caCert: caCert: unknown field (expected: one of caCertificates, caCrl, clientCertificate, credentialName, insecureSkipVerify, mode, privateKey, sni, subjectAltNames)")),
                new Case("ISTIO_MUTUAL noted", "  host: b\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n", true,
                        List.of("m.yaml:1: note: DestinationRule ns1/dr: spec.trafficPolicy.tls.mode: ISTIO_MUTUAL is ignored at a waypoint: HBONE already secures mesh endpoints")),
                new Case("port level without port", "  host: b\n  trafficPolicy: {portLevelSettings: [{loadBalancer: {simple: RANDOM}}]}\n", false,
                        List.of(E + "spec.trafficPolicy.portLevelSettings[0].port: port: missing (expected: {number: 1-65535})")),
                new Case("duplicate subset", "  host: b\n  subsets: [{name: v1, labels: {v: '1'}}, {name: v1}]\n", false,
                        List.of(E + "spec.subsets[1].name: name: v1 (expected: unique among subsets)",
                                W + "spec.subsets: subsets are not applied by this waypoint yet: Gateway API routes reach a subset through a Service of its own (selecting the subset's labels)")),
                new Case("workloadSelector skipped", "  host: b\n  workloadSelector: {matchLabels: {a: b}}\n", false,
                        List.of(W + "spec.workloadSelector: a waypoint does not apply a DestinationRule with a workloadSelector (sidecars do); the rule is ignored")));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void problems(Case c) {
        Result r = translate(HEAD + c.spec());
        assertThat(r.problems()).containsExactlyInAnyOrderElementsOf(c.problems());
        assertThat(r.resources().destinationRules()).hasSize(c.kept() ? 1 : 0);
    }

    @Test
    void fullRecord() {
        Result r = translate("""
                apiVersion: networking.istio.io/v1beta1
                kind: DestinationRule
                metadata: {name: dr, namespace: ns1}
                spec:
                  host: reviews.ns1.svc.cluster.local
                  trafficPolicy:
                    loadBalancer:
                      consistentHash:
                        httpCookie: {name: user, path: /, ttl: 0s}
                        maglev: {tableSize: 65537}
                    outlierDetection:
                      consecutive5xxErrors: 3
                      interval: 1s
                      baseEjectionTime: 2s
                      maxEjectionPercent: 50
                    portLevelSettings:
                    - port: {number: 9080}
                      loadBalancer: {simple: LEAST_CONN, warmupDurationSecs: 30s}
                """);
        assertThat(r.problems()).containsExactly(
                "m.yaml:1: note: DestinationRule ns1/dr: spec.trafficPolicy.portLevelSettings[0].loadBalancer.simple: LEAST_CONN is deprecated; it means LEAST_REQUEST");
        DestinationRuleSpec dr = r.resources().destinationRules().get(0);
        assertThat(dr.host()).isEqualTo("reviews.ns1.svc.cluster.local");
        assertThat(dr.trafficPolicy().loadBalancer().consistentHash())
                .isEqualTo(new ConsistentHashSpec(HashOn.COOKIE, "user", "/", Duration.ZERO, HashTable.MAGLEV, 65537));
        assertThat(dr.trafficPolicy().outlierDetection()).isEqualTo(new OutlierDetectionSpec(3, 0, 5, false,
                Duration.ofSeconds(1), Duration.ofSeconds(2), 50, 0));
        TrafficPolicySpec.PortPolicySpec port = dr.trafficPolicy().portLevelSettings().get(0);
        assertThat(port.port()).isEqualTo(9080);
        assertThat(port.policy().loadBalancer().simple()).isEqualTo(Simple.LEAST_REQUEST);
        assertThat(port.policy().loadBalancer().warmup()).isEqualTo(Duration.ofSeconds(30));
        assertThat(dr.trafficPolicy().connectionPool()).isNull();
    }

    @Test
    void localityRecord() {
        Result r = translate(HEAD + "  host: b\n  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n"
                + "        failoverPriority: [topology.kubernetes.io/region, topology.kubernetes.io/zone]\n"
                + "        failover: [{from: us-west, to: us-east}]\n");
        assertThat(r.problems()).isEmpty();
        TrafficPolicySpec.LocalityLbSpec l = r.resources().destinationRules().get(0).trafficPolicy().loadBalancer().locality();
        assertThat(l).isEqualTo(new TrafficPolicySpec.LocalityLbSpec(true,
                List.of(new TrafficPolicySpec.LocalityLbSpec.Failover("us-west", "us-east")),
                List.of("topology.kubernetes.io/region", "topology.kubernetes.io/zone"), List.of()));
        Result d = translate(HEAD + "  host: b\n  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n"
                + "        enabled: false\n        distribute: [{from: us-west/zone1/*, to: {us-west/zone1/*: 80, us-west/zone2/*: 20}}]\n");
        TrafficPolicySpec.LocalityLbSpec dl = d.resources().destinationRules().get(0).trafficPolicy().loadBalancer().locality();
        assertThat(dl.enabled()).isFalse();
        assertThat(dl.distribute()).containsExactly(new TrafficPolicySpec.LocalityLbSpec.Distribute("us-west/zone1/*",
                java.util.Map.of("us-west/zone1/*", 80, "us-west/zone2/*", 20)));
    }

    @Test
    void connectionPoolRecord() {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: dr, namespace: ns1}
                spec:
                  host: reviews
                  trafficPolicy:
                    connectionPool:
                      tcp: {maxConnections: 4, connectTimeout: 250ms, tcpKeepalive: {probes: 3, time: 10s, interval: 5s}}
                      http: {http2MaxRequests: 8, maxRequestsPerConnection: 2, maxRetries: 1, idleTimeout: 1.5s}
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().destinationRules().get(0).trafficPolicy().connectionPool()).isEqualTo(
                new TrafficPolicySpec.ConnectionPoolSpec(4, 0, 8, 2, 1, Duration.ofMillis(1500), Duration.ofMillis(250),
                        new TrafficPolicySpec.TcpKeepaliveSpec(3, Duration.ofSeconds(10), Duration.ofSeconds(5))));
    }

    @Test
    void connectionPoolTunnelUpgradeAndHttp2Fields() {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: dr, namespace: ns1}
                spec:
                  host: reviews
                  trafficPolicy:
                    connectionPool:
                      tcp: {idleTimeout: 0s, maxConnectionDuration: 10m}
                      http: {h2UpgradePolicy: DO_NOT_UPGRADE, maxConcurrentStreams: 7, http2KeepAlive: {interval: 30s, timeout: 5s}}
                    portLevelSettings:
                    - port: {number: 9080}
                      connectionPool: {tcp: {idleTimeout: 90s}, http: {useClientProtocol: true}}
                """);
        assertThat(r.problems()).isEmpty();
        TrafficPolicySpec policy = r.resources().destinationRules().get(0).trafficPolicy();
        assertThat(policy.connectionPool()).isEqualTo(new TrafficPolicySpec.ConnectionPoolSpec(0, 0, 0, 0, 0, null, null,
                null, Duration.ZERO, Duration.ofMinutes(10), TrafficPolicySpec.H2Upgrade.DO_NOT_UPGRADE, false, 7,
                new TrafficPolicySpec.Http2KeepaliveSpec(Duration.ofSeconds(30), Duration.ofSeconds(5))));
        assertThat(policy.portLevelSettings().get(0).policy().connectionPool()).isEqualTo(
                new TrafficPolicySpec.ConnectionPoolSpec(0, 0, 0, 0, 0, null, null, null, Duration.ofSeconds(90), null,
                        TrafficPolicySpec.H2Upgrade.DEFAULT, true, 0, null));
    }
}
