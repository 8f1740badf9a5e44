package dev.waypoint.bench.e2e;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes manifest directories for the benchmarks.
 *
 * <ul>
 *   <li>{@code bench}: the end-to-end mesh: namespace {@code bench} (ambient, using
 *       {@code istio-system/waypoint}), the waypoint Gateway, one pod on a loopback IP and a
 *       Service {@code bench-http} on a loopback VIP with port 80 (name {@code http}) and port
 *       9000 ({@code tcp-bulk}: declared TCP, relayed without sniffing).</li>
 *   <li>{@code scale}: the config-compile test: {@code --services} Services spread over
 *       {@code --namespaces} ambient namespaces, each selecting its own pod (one pod per
 *       Service), with two ports (http 80, grpc 9090), plus the Gateway; {@code --policies}
 *       AuthorizationPolicies (ALLOW, one principal, {@code GET} under a path prefix, each
 *       attached by {@code targetRefs} to one Service, round robin) and {@code --routes} HTTPRoutes
 *       (each with a Service parentRef on port 80, a path-prefix rule with a header match and a
 *       header-setting filter, and the default rule, both to the Service itself), plus one
 *       Gateway-wide DENY policy when {@code --policies} is not 0.</li>
 * </ul>
 */
@Command(name = "manifest-gen", mixinStandardHelpOptions = true, description = "Benchmark manifest directories.")
public final class ManifestGen implements Callable<Integer> {
    @Option(names = "--out", required = true) Path out;
    @Option(names = "--kind", defaultValue = "bench", description = "bench | scale") String kind;
    @Option(names = "--service-vip", defaultValue = "127.40.0.10") String vip;
    @Option(names = "--pod-ip", defaultValue = "127.40.1.1") String podIp;
    @Option(names = "--http-port", defaultValue = "8080") int httpPort;
    @Option(names = "--bulk-port", defaultValue = "9000") int bulkPort;
    @Option(names = "--services", defaultValue = "10000") int services;
    @Option(names = "--namespaces", defaultValue = "100") int namespaces;
    @Option(names = "--policies", defaultValue = "0", description = "AuthorizationPolicies for --kind scale") int policies;
    @Option(names = "--routes", defaultValue = "0", description = "HTTPRoutes for --kind scale") int routes;
    @Option(names = "--waypoint-for", defaultValue = "service",
            description = "the Gateway's istio.io/waypoint-for for --kind scale (all: the pods are bound too)") String waypointFor;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ManifestGen()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        Files.createDirectories(out);
        if (kind.equals("bench")) {
            writeBench(out, vip, podIp, httpPort, bulkPort);
        } else if (kind.equals("scale")) {
            writeScale(out, services, namespaces);
            if (!waypointFor.equals("service")) {
                Files.writeString(out.resolve("gateway.yaml"),
                        GATEWAY.replace("istio.io/waypoint-for: service", "istio.io/waypoint-for: " + waypointFor),
                        StandardCharsets.UTF_8);
            }
            writePolicies(out, services, namespaces, policies, routes);
        } else {
            throw new CommandLine.ParameterException(new CommandLine(this), "--kind: " + kind + " (expected: bench, scale)");
        }
        System.out.println("wrote " + kind + " manifests to " + out);
        return 0;
    }

    static final String GATEWAY = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: waypoint
              namespace: istio-system
              labels:
                istio.io/waypoint-for: service
            spec:
              gatewayClassName: istio-waypoint
              listeners:
              - name: mesh
                port: 15008
                protocol: HBONE
                allowedRoutes:
                  namespaces:
                    from: All
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: istio-system
            """;

    /** The end-to-end mesh (see the class comment). */
    public static void writeBench(Path dir, String vip, String podIp, int httpPort, int bulkPort) throws IOException {
        String yaml = GATEWAY + """
                ---
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: bench
                  labels:
                    istio.io/dataplane-mode: ambient
                    istio.io/use-waypoint: waypoint
                    istio.io/use-waypoint-namespace: istio-system
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: bench-http
                  namespace: bench
                spec:
                  clusterIP: %1$s
                  selector:
                    app: bench-backend
                  ports:
                  - name: http
                    port: 80
                    targetPort: %3$d
                  - name: tcp-bulk
                    port: 9000
                    targetPort: %4$d
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: bench-backend-0
                  namespace: bench
                  labels:
                    app: bench-backend
                spec:
                  serviceAccountName: bench-backend
                  containers:
                  - name: backend
                    image: example/bench-backend:v1
                    ports:
                    - containerPort: %3$d
                    - containerPort: %4$d
                status:
                  podIP: %2$s
                """.formatted(vip, podIp, httpPort, bulkPort);
        Files.writeString(dir.resolve("bench.yaml"), yaml, StandardCharsets.UTF_8);
    }

    /** The config-compile set (see the class comment): one file per namespace. */
    public static void writeScale(Path dir, int services, int namespaces) throws IOException {
        Files.writeString(dir.resolve("gateway.yaml"), GATEWAY, StandardCharsets.UTF_8);
        int perNs = (services + namespaces - 1) / namespaces;
        int s = 0;
        for (int n = 0; n < namespaces && s < services; n++) {
            String ns = "ns-" + n;
            try (BufferedWriter w = Files.newBufferedWriter(dir.resolve(ns + ".yaml"), StandardCharsets.UTF_8)) {
                w.write("""
                        apiVersion: v1
                        kind: Namespace
                        metadata:
                          name: %s
                          labels:
                            istio.io/dataplane-mode: ambient
                            istio.io/use-waypoint: waypoint
                            istio.io/use-waypoint-namespace: istio-system
                        """.formatted(ns));
                for (int i = 0; i < perNs && s < services; i++, s++) {
                    String name = "svc-" + s;
                    String vip = "10.96." + (s >> 8) + "." + (s & 0xff);
                    String podIp = "10.1." + (s >> 8) + "." + (s & 0xff);
                    w.write("""
                            ---
                            apiVersion: v1
                            kind: Service
                            metadata:
                              name: %1$s
                              namespace: %2$s
                              labels:
                                app: %1$s
                            spec:
                              clusterIP: %3$s
                              selector:
                                app: %1$s
                              ports:
                              - name: http
                                port: 80
                                targetPort: 8080
                              - name: grpc
                                port: 9090
                                targetPort: grpc-port
                            ---
                            apiVersion: v1
                            kind: Pod
                            metadata:
                              name: %1$s-0
                              namespace: %2$s
                              labels:
                                app: %1$s
                                version: v1
                            spec:
                              serviceAccountName: %1$s
                              containers:
                              - name: app
                                image: example/app:v1
                                ports:
                                - containerPort: 8080
                                - name: grpc-port
                                  containerPort: 9090
                            status:
                              podIP: %4$s
                              conditions:
                              - type: Ready
                                status: "True"
                            """.formatted(name, ns, vip, podIp));
                }
            }
        }
    }

    /** The namespace and name of Service {@code s} in the scale set (as {@link #writeScale} spreads them). */
    private static String[] scaleService(int s, int services, int namespaces) {
        int perNs = (services + namespaces - 1) / namespaces;
        return new String[] {"ns-" + (s / perNs), "svc-" + s};
    }

    /** AuthorizationPolicies and HTTPRoutes over the scale set's Services (see the class comment). */
    public static void writePolicies(Path dir, int services, int namespaces, int policies, int routes) throws IOException {
        if (policies <= 0 && routes <= 0) {
            return;
        }
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("policies.yaml"), StandardCharsets.UTF_8)) {
            if (policies > 0) {
                w.write("""
                        apiVersion: security.istio.io/v1
                        kind: AuthorizationPolicy
                        metadata:
                          name: deny-admin
                          namespace: istio-system
                        spec:
                          targetRefs:
                          - group: gateway.networking.k8s.io
                            kind: Gateway
                            name: waypoint
                          action: DENY
                          rules:
                          - to:
                            - operation:
                                paths: ["/admin*"]
                        """);
            }
            for (int i = 0; i < policies; i++) {
                String[] svc = scaleService(i % services, services, namespaces);
                w.write("""
                        ---
                        apiVersion: security.istio.io/v1
                        kind: AuthorizationPolicy
                        metadata:
                          name: allow-%3$d
                          namespace: %1$s
                        spec:
                          targetRefs:
                          - kind: Service
                            group: ""
                            name: %2$s
                          action: ALLOW
                          rules:
                          - from:
                            - source:
                                principals: ["cluster.local/ns/%1$s/sa/client-%3$d"]
                            to:
                            - operation:
                                methods: ["GET"]
                                paths: ["/api/%3$d/*"]
                        """.formatted(svc[0], svc[1], i));
            }
            for (int i = 0; i < routes; i++) {
                String[] svc = scaleService(i % services, services, namespaces);
                w.write("""
                        ---
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: HTTPRoute
                        metadata:
                          name: route-%3$d
                          namespace: %1$s
                        spec:
                          parentRefs:
                          - group: ""
                            kind: Service
                            name: %2$s
                            port: 80
                          rules:
                          - matches:
                            - path:
                                type: PathPrefix
                                value: /v2/%3$d
                              headers:
                              - name: x-canary
                                value: "true"
                            filters:
                            - type: RequestHeaderModifier
                              requestHeaderModifier:
                                set:
                                - name: x-route
                                  value: route-%3$d
                            backendRefs:
                            - name: %2$s
                              port: 80
                          - backendRefs:
                            - name: %2$s
                              port: 80
                        """.formatted(svc[0], svc[1], i));
            }
        }
    }
}
