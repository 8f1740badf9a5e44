package dev.waypoint.bench.jmh;

import dev.waypoint.authz.AuthzEngine;
import dev.waypoint.authz.AuthzPolicyCompiler;
import dev.waypoint.authz.AuthzTable;
import dev.waypoint.config.ConfigValidator;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.Target;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One AuthorizationPolicy decision for a request to a Service with {@code policies} ALLOW
 * policies attached (each: one principal, GET, a path prefix) plus one DENY on {@code /admin*},
 * compiled from real manifests by the product's translator and compiler. The request matches the
 * <em>last</em> ALLOW policy (the worst case for a linear tier). Run with {@code -prof gc} for the
 * allocation per decision.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class AuthzBench {
    @Param({"1", "100", "1000"})
    public int policies;

    private AuthzEngine engine;
    private Request allowed;
    private Request denied;

    /** What the engine reads of a request. */
    record Request(String method, String path, SpiffeId sourcePrincipal, InetSocketAddress destinationAddress)
            implements RequestAttributes {
        @Override
        public String host() {
            return "b.ns1.svc.cluster.local";
        }

        @Override
        public String scheme() {
            return "http";
        }

        @Override
        public String protocol() {
            return "HTTP/1.1";
        }

        @Override
        public boolean grpc() {
            return false;
        }

        @Override
        public HeadersView headers() {
            return NO_HEADERS;
        }

        @Override
        public InetSocketAddress sourceAddress() {
            return new InetSocketAddress("10.244.0.9", 0);
        }
    }

    static final HeadersView NO_HEADERS = new HeadersView() {
        public String get(CharSequence name) { return null; }
        public List<String> getAll(CharSequence name) { return List.of(); }
        public boolean contains(CharSequence name) { return false; }
        public void set(CharSequence name, String value) {}
        public void add(CharSequence name, String value) {}
        public void remove(CharSequence name) {}
    };

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path dir = Files.createTempDirectory("authz-bench");
        StringBuilder y = new StringBuilder("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: ns1, labels: {istio.io/use-waypoint: waypoint}}
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: ns1}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: b, namespace: ns1}
                spec:
                  clusterIP: 10.96.0.20
                  selector: {app: b}
                  ports: [{name: http, port: 8080}]
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: deny-admin, namespace: ns1}
                spec:
                  targetRefs: [{kind: Service, group: "", name: b}]
                  action: DENY
                  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
                """);
        for (int i = 0; i < policies; i++) {
            y.append("""
                    ---
                    apiVersion: security.istio.io/v1
                    kind: AuthorizationPolicy
                    metadata: {name: allow-%1$d, namespace: ns1}
                    spec:
                      targetRefs: [{kind: Service, group: "", name: b}]
                      action: ALLOW
                      rules:
                      - from: [{source: {principals: [cluster.local/ns/ns1/sa/client-%1$d]}}]
                        to: [{operation: {methods: [GET], paths: ["/api/%1$d/*"]}}]
                    """.formatted(i));
        }
        Files.writeString(dir.resolve("mesh.yaml"), y);
        ConfigValidator.Loaded loaded = ConfigValidator.load(dir, new NamespacedName("ns1", "waypoint"), "cluster.local",
                List.of(new TargetTableCompiler(), new AuthzPolicyCompiler()));
        ConfigSnapshot snapshot = loaded.snapshot();
        if (snapshot == null || !loaded.problems().isEmpty()) {
            throw new IllegalStateException("bench config does not compile: " + loaded.problems());
        }
        Target target = (Target) TargetResolver.resolve("10.96.0.20:8080", snapshot.part(TargetTable.PART));
        engine = snapshot.part(AuthzTable.PART).engineFor(target);
        InetSocketAddress dst = new InetSocketAddress("10.96.0.20", 8080);
        int last = policies - 1;
        allowed = new Request("GET", "/api/" + last + "/items", new SpiffeId("cluster.local", "ns1", "client-" + last), dst);
        denied = new Request("GET", "/admin/users", new SpiffeId("cluster.local", "ns1", "client-0"), dst);
        if (!engine.decide(allowed, null).allowed() || engine.decide(denied, null).allowed()) {
            throw new IllegalStateException("bench policies do not decide as intended");
        }
    }

    /** Allowed by the last ALLOW policy: DENY tier, then every ALLOW policy before it. */
    @Benchmark
    public boolean allowedByTheLastPolicy() {
        return engine.decide(allowed, null).allowed();
    }

    /** Denied in the DENY tier (the ALLOW tier is never reached). */
    @Benchmark
    public boolean deniedByTheDenyPolicy() {
        return engine.decide(denied, null).allowed();
    }
}
