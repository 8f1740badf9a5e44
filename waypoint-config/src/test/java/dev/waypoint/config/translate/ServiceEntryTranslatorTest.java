package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServiceEntryTranslatorTest {
    @TempDir
    Path dir;

    private record Result(ResourceSet resources, List<String> problems) {}

    private Result translate(String yaml) throws IOException {
        Files.writeString(dir.resolve("r.yaml"), yaml);
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        List<WireObject> wire = content.files().stream().flatMap(f -> f.objects().stream()).toList();
        Diagnostics diagnostics = new Diagnostics();
        content.files().forEach(f -> {
            if (f.error() != null) {
                diagnostics.error(dev.waypoint.model.SourceRef.NONE, "-", null, "-", f.error().toString());
            }
        });
        List<TranslatedObject> objects = ResourceTranslator.translate(wire, diagnostics);
        return new Result(ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local", objects),
                diagnostics.problems().stream().map(Object::toString).toList());
    }

    @Test
    void everyFieldOfAServiceEntry() throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: api, namespace: egress, labels: {istio.io/use-waypoint: waypoint}}
                spec:
                  hosts: [api.example.com, api2.example.com]
                  addresses: [240.240.0.1, 240.240.0.2/32]
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
                  - {number: 443, name: tls, protocol: TLS}
                  - {number: 53, name: dns, protocol: UDP}
                  location: MESH_INTERNAL
                  resolution: DNS
                  endpoints:
                  - {address: 10.0.0.1, ports: {http: 9090}, labels: {v: "1"}, serviceAccount: vm, weight: 3}
                  - {address: backend.example.com}
                  exportTo: ["."]
                """);
        assertThat(r.problems()).singleElement().asString().contains("spec.ports[2].protocol").contains("UDP");
        ServiceEntrySpec se = r.resources().serviceEntries().get(0);
        assertThat(se.name()).isEqualTo(new NamespacedName("egress", "api"));
        assertThat(se.hosts()).containsExactly("api.example.com", "api2.example.com");
        assertThat(se.addresses()).containsExactly(HostPort.parseIp("240.240.0.1"), HostPort.parseIp("240.240.0.2"));
        assertThat(se.ports()).containsExactly(new ServicePortSpec("http", 80, 8080, null, "http"),
                new ServicePortSpec("tls", 443, 443, null, "tls"));
        assertThat(se.ports().get(0).protocol()).isEqualTo(AppProtocol.HTTP);
        assertThat(se.ports().get(1).protocol()).isEqualTo(AppProtocol.TCP);
        assertThat(se.location()).isEqualTo(ServiceEntrySpec.Location.MESH_INTERNAL);
        assertThat(se.resolution()).isEqualTo(ServiceEntrySpec.Resolution.DNS);
        assertThat(se.endpoints()).containsExactly(
                new WorkloadEndpointSpec("10.0.0.1", HostPort.parseIp("10.0.0.1"), Map.of("http", 9090), Map.of("v", "1"), "vm", 3),
                new WorkloadEndpointSpec("backend.example.com", null, Map.of(), Map.of(), null, 0));
        assertThat(se.workloadSelector()).isNull();
        assertThat(se.labels()).containsEntry("istio.io/use-waypoint", "waypoint");
        assertThat(se.exportTo()).containsExactly(".");
        assertThat(se.exportedTo("egress")).isTrue();
        assertThat(se.exportedTo("apps")).isFalse();
        assertThat(se.exportedTo(null)).as("a caller without identity").isFalse();
    }

    @Test
    void exportToValuesAreCheckedAndReadAsWritten() throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: db, namespace: egress}
                spec:
                  hosts: [db.internal]
                  addresses: [240.240.0.3]
                  ports: [{number: 5432, name: tcp-pg}]
                  exportTo: [apps, "*", Bad_NS]
                """);
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("spec.exportTo[2]").contains("Bad_NS")
                        .contains("'.', '*', '~' or a namespace name"))
                .anySatisfy(p -> assertThat(p).contains("spec.exportTo").contains("'*' or '~' alone"));
        Result ok = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: db, namespace: egress}
                spec:
                  hosts: [db.internal]
                  addresses: [240.240.0.3]
                  ports: [{number: 5432, name: tcp-pg}]
                  exportTo: [apps, web]
                """);
        assertThat(ok.problems()).isEmpty();
        ServiceEntrySpec se = ok.resources().serviceEntries().get(0);
        assertThat(se.exportedTo("apps")).isTrue();
        assertThat(se.exportedTo("web")).isTrue();
        assertThat(se.exportedTo("egress")).as("'.' is not implied").isFalse();
    }

    @Test
    void defaultsAreMeshExternalAndResolutionNone() throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1beta1
                kind: ServiceEntry
                metadata: {name: db, namespace: egress}
                spec:
                  hosts: [db.internal]
                  addresses: [240.240.0.3]
                  ports: [{number: 5432, name: tcp-pg}]
                """);
        assertThat(r.problems()).isEmpty();
        ServiceEntrySpec se = r.resources().serviceEntries().get(0);
        assertThat(se.location()).isEqualTo(ServiceEntrySpec.Location.MESH_EXTERNAL);
        assertThat(se.resolution()).isEqualTo(ServiceEntrySpec.Resolution.NONE);
        assertThat(se.ports().get(0).protocol()).as("no protocol: the name's prefix").isEqualTo(AppProtocol.TCP);
    }

    @Test
    void aWorkloadEntryAndASelector() throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: WorkloadEntry
                metadata: {name: vm-1, namespace: egress, labels: {team: a}}
                spec:
                  address: 10.1.0.7
                  ports: {http: 8081}
                  labels: {app: legacy}
                  serviceAccount: legacy
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: legacy, namespace: egress}
                spec:
                  hosts: [legacy.egress.internal]
                  addresses: [240.240.0.4]
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  workloadSelector: {labels: {app: legacy}}
                """);
        assertThat(r.problems()).isEmpty();
        WorkloadEntrySpec we = r.resources().workloadEntries().get(0);
        assertThat(we.workload().ip()).isEqualTo(HostPort.parseIp("10.1.0.7"));
        assertThat(we.workload().labels()).as("the spec's labels over the object's").isEqualTo(Map.of("app", "legacy", "team", "a"));
        assertThat(we.workload().ports()).isEqualTo(Map.of("http", 8081));
        assertThat(we.workload().serviceAccount()).isEqualTo("legacy");
        assertThat(r.resources().serviceEntries().get(0).workloadSelector()).isEqualTo(Map.of("app", "legacy"));
    }

    /** Each bad ServiceEntry is dropped with an error naming the field. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            no hosts               | addresses: [240.0.0.1]\\n  ports: [{number: 80, name: http}]                                        | spec.hosts: hosts: missing
            not a CIDR range       | hosts: [a.b]\\n  addresses: [10.0.0.0/33]\\n  ports: [{number: 80, name: http}]                   | spec.addresses[0]: addresses[0]: 10.0.0.0/33 (expected: an IP address or a CIDR range)
            DYNAMIC_DNS            | hosts: ['*.b.c']\\n  resolution: DYNAMIC_DNS\\n  ports: [{number: 80, name: http}]                 | DYNAMIC_DNS is not supported
            unknown resolution     | hosts: [a.b]\\n  resolution: MAGIC\\n  ports: [{number: 80, name: http}]                         | spec.resolution: resolution: MAGIC
            unknown location       | hosts: [a.b]\\n  location: MARS\\n  ports: [{number: 80, name: http}]                            | spec.location: location: MARS
            STATIC with a name     | hosts: [a.b]\\n  resolution: STATIC\\n  ports: [{number: 80, name: http}]\\n  endpoints: [{address: x.y}] | spec.endpoints[0].address: address: x.y (expected: an IP address)
            DNS wildcard, no ep    | hosts: ['*.b.c']\\n  resolution: DNS\\n  ports: [{number: 80, name: http}]                         | spec.hosts[0]
            selector and endpoints | hosts: [a.b]\\n  ports: [{number: 80, name: http}]\\n  endpoints: [{address: 1.2.3.4}]\\n  workloadSelector: {labels: {a: b}} | spec.workloadSelector
            bad protocol           | hosts: [a.b]\\n  ports: [{number: 80, name: http, protocol: SMTP}]                                 | spec.ports[0].protocol: protocol: SMTP
            repeated port          | hosts: [a.b]\\n  ports: [{number: 80, name: a}, {number: 80, name: b}]                            | spec.ports[1].number
            port without a name    | hosts: [a.b]\\n  ports: [{number: 80}]                                                           | spec.ports[0].name: name: missing
            unknown field          | hosts: [a.b]\\n  ports: [{number: 80, name: http}]\\n  trafficPolicy: {}                           | spec.trafficPolicy: trafficPolicy: unknown field
            unix endpoint          | hosts: [a.b]\\n  ports: [{number: 80, name: http}]\\n  endpoints: [{address: 'unix:///sock'}]       | unix sockets are not reachable
            """)
    void badServiceEntriesAreDropped(String name, String spec, String expected) throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: se, namespace: egress}
                spec:
                """ + "  " + spec.replace("\\n", "\n") + "\n");
        assertThat(r.resources().serviceEntries()).isEmpty();
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("ServiceEntry egress/se").contains(expected));
    }

    /** Istio's samples/external/github.yaml: ranges beside addresses; the ranges are dropped, said so, and the rest kept. */
    @Test
    void cidrRangesAreDroppedWithAWarningAndTheEntryKept() throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: github-tcp, namespace: egress}
                spec:
                  hosts: [dummy.github.com]
                  addresses: [13.229.188.59/32, 140.82.112.0/20, "2001:db8::1", "2001:db8::/32"]
                  ports: [{name: tcp, number: 22, protocol: tcp}]
                  location: MESH_EXTERNAL
                """);

        assertThat(r.problems()).containsExactly(
                "r.yaml:1: warning: ServiceEntry egress/github-tcp: spec.addresses[1]: addresses[1]: 140.82.112.0/20 (expected: an IP address; "
                        + "CIDR ranges are not matched by this waypoint yet, so the range is dropped and connections to it are not resolved to this entry)",
                "r.yaml:1: warning: ServiceEntry egress/github-tcp: spec.addresses[3]: addresses[3]: 2001:db8::/32 (expected: an IP address; "
                        + "CIDR ranges are not matched by this waypoint yet, so the range is dropped and connections to it are not resolved to this entry)");
        assertThat(r.resources().serviceEntries()).singleElement().satisfies(se -> assertThat(se.addresses())
                .containsExactly(HostPort.parseIp("13.229.188.59"), HostPort.parseIp("2001:db8::1")));
    }

    /**
     * istiod's address allocator: an entry without spec.addresses is addressed by the VIPs in its
     * status, where Istio uses them (resolution not NONE, not opted out, no addresses of its own).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            allocated, resolution DNS       | DNS    | -     | -           | 240.240.0.1,2001:2::1
            allocated, resolution STATIC    | STATIC | -     | -           | 240.240.0.1,2001:2::1
            resolution NONE: not used       | NONE   | -     | -           | -
            opted out with the label        | DNS    | false | -           | -
            its own addresses win           | DNS    | -     | 10.9.9.9    | 10.9.9.9
            """)
    void allocatedAddressesFromTheStatus(String name, String resolution, String optIn, String own, String expected)
            throws IOException {
        Result r = translate("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: httpbin, namespace: egress%s}
                spec:
                  hosts: [httpbin.org]
                  %s
                  ports: [{name: http, number: 80, protocol: HTTP}]
                  resolution: %s
                status:
                  addresses:
                  - {host: httpbin.org, value: 240.240.0.1}
                  - {host: httpbin.org, value: "2001:2::1"}
                """.formatted(optIn.equals("-") ? "" : ", labels: {networking.istio.io/enable-autoallocate-ip: \"" + optIn + "\"}",
                own.equals("-") ? "" : "addresses: [" + own + "]", resolution));
        assertThat(r.problems()).noneMatch(p -> !p.contains("note:") && !p.contains("warning:"));
        List<InetAddress> want = expected.equals("-") ? List.of()
                : java.util.Arrays.stream(expected.split(",")).map(HostPort::parseIp).toList();
        assertThat(r.resources().serviceEntries()).singleElement()
                .satisfies(se -> assertThat(se.addresses()).containsExactlyElementsOf(want));
    }
}
