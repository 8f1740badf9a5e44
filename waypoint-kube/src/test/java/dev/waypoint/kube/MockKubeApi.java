package dev.waypoint.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The fabric8 mock API server in CRUD mode, for tests: the CRDs of every custom kind the waypoint
 * watches registered as generic resources, manifests loaded from YAML (status included), and
 * faults: the server going away and coming back on the same port with the same content, and
 * {@code 410 Gone} at the watch handshake or as an ERROR event inside a watch.
 */
public final class MockKubeApi implements AutoCloseable {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The mock logs every request at INFO through java.util.logging; kept strongly so the level sticks. */
    private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

    static {
        MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    }

    private final InetAddress host;
    private final KubernetesCrudDispatcher crud = new KubernetesCrudDispatcher(List.of());
    private final AtomicInteger goneAtHandshake = new AtomicInteger();
    private final AtomicInteger goneInWatch = new AtomicInteger();
    private final AtomicInteger watchRequests = new AtomicInteger();
    private volatile boolean forbidCrdReads;
    private final List<String> notServed = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<String> statusWrites = new java.util.concurrent.CopyOnWriteArrayList<>();
    private KubernetesMockServer server;
    private int port;
    private final KubernetesClient client;

    private volatile boolean forbidSecrets;
    private final java.util.Queue<String> secretRequests = new java.util.concurrent.ConcurrentLinkedQueue<>();

    private MockKubeApi(InetAddress host) {
        this.host = host;
        startServer(0);
        this.client = server.createClient(new JdkHttpClientFactory());
    }

    /** Starts the server on {@code host} (a loopback address of the test's range), port 0. */
    public static MockKubeApi start(String host) throws IOException {
        return new MockKubeApi(InetAddress.getByName(host));
    }

    private void startServer(int p) {
        Dispatcher faulty = new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                String path = request.getPath();
                for (String plural : notServed) {
                    if (path.split("\\?")[0].endsWith("/" + plural)) {
                        return new MockResponse().setResponseCode(404).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                + "\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404,\"message\":\"the server "
                                + "could not find the requested resource\"}");
                    }
                }
                if (request.getMethod().equals("GET") && path.split("\\?")[0].endsWith("/secrets")) {
                    secretRequests.add(path);
                    if (forbidSecrets) {
                        return new MockResponse().setResponseCode(403).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                + "\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,\"message\":"
                                + "\"secrets is forbidden\"}");
                    }
                }
                if (forbidCrdReads && request.getMethod().equals("GET") && path.contains("/customresourcedefinitions")) {
                    return new MockResponse().setResponseCode(403).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                            + "\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,\"message\":"
                            + "\"customresourcedefinitions is forbidden\"}");
                }
                if (path.contains("watch=true")) {
                    watchRequests.incrementAndGet();
                    if (goneAtHandshake.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        return new MockResponse().setResponseCode(410).setBody(status410());
                    }
                    if (goneInWatch.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
                            @Override
                            public void onOpen(WebSocket ws, Response response) {
                                ws.send("{\"type\":\"ERROR\",\"object\":" + status410() + "}");
                            }
                        });
                    }
                }
                if ((request.getMethod().equals("PUT") || request.getMethod().equals("PATCH"))
                        && path.split("\\?")[0].endsWith("/status")) {
                    statusWrites.add(request.getMethod() + " " + path);
                }
                if (request.getMethod().equals("GET") && path.split("\\?")[0].endsWith("/secrets") && path.contains("fieldSelector=")) {
                    // the mock's CRUD cannot evaluate a field selector on type (it keeps none for a plain value
                    // such as Opaque, and ignores one with a '/'): list them all, as the waypoint checks the type
                    // of each object again anyway, which is what the tests show
                    String plain = path.replaceAll("fieldSelector=[^&]*&?", "").replaceAll("[?&]$", "");
                    return crud.dispatch(new RecordedRequest(request.getHttpVersion(), request.method(), plain,
                            request.getHeaders(), request.getBody()));
                }
                return crud.dispatch(request);
            }
        };
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), faulty, false);
        server.init(host, p);
        port = server.getPort();
    }

    private static String status410() {
        return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version\","
                + "\"reason\":\"Expired\",\"code\":410}";
    }

    /** A client of the test's own (not the waypoint's). */
    public KubernetesClient client() {
        return client;
    }

    /** Writes a kubeconfig pointing at this server and returns its path. */
    public Path writeKubeconfig(Path dir) throws IOException {
        Path f = dir.resolve("kubeconfig");
        Files.writeString(f, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "http://%s:%d"}
                users:
                - name: test
                  user: {token: test-token}
                contexts:
                - name: mock
                  context: {cluster: mock, user: test, namespace: default}
                current-context: mock
                """.formatted(host.getHostAddress(), port));
        return f;
    }

    /** Registers the CRD of {@code kind} (served versions as the kind lists them, status subresource on). */
    public void installCrd(WatchedKind kind) {
        List<io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion> versions = new ArrayList<>();
        for (int i = 0; i < kind.versions().size(); i++) {
            versions.add(new io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersionBuilder()
                    .withName(kind.versions().get(i)).withServed(true).withStorage(i == 0)
                    .withNewSubresources().withNewStatus().endStatus().endSubresources().build());
        }
        CustomResourceDefinitionBuilder b = new CustomResourceDefinitionBuilder().withNewMetadata()
                .withName(kind.crdName()).endMetadata().withNewSpec().withGroup(kind.group())
                .withScope(kind.namespaced() ? "Namespaced" : "Cluster").withNewNames().withKind(kind.kind())
                .withPlural(kind.plural()).withSingular(kind.kind().toLowerCase(java.util.Locale.ROOT)).endNames()
                .withVersions(versions).endSpec();
        CustomResourceDefinition crd = b.build();
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
    }

    /** Registers every custom kind the waypoint watches. */
    public void installAllCrds(String rootNamespace) {
        for (WatchedKind k : WatchedKinds.forWaypoint(rootNamespace, rootNamespace)) {
            if (k.custom()) {
                installCrd(k);
            }
        }
    }

    /** Deletes the CRD of {@code kind}. */
    public void deleteCrd(WatchedKind kind) {
        client.apiextensions().v1().customResourceDefinitions().withName(kind.crdName()).delete();
    }

    /** Creates or replaces each object of a YAML stream, then writes its {@code status} if it has one. */
    public void apply(String yaml) throws IOException {
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (docs.hasNext()) {
                JsonNode doc = docs.next();
                if (doc == null || !doc.isObject()) {
                    continue;
                }
                applyOne((ObjectNode) doc);
            }
        }
    }

    private void applyOne(ObjectNode doc) throws IOException {
        ResourceDefinitionContext ctx = context(doc.path("apiVersion").asText(), doc.path("kind").asText());
        JsonNode status = doc.remove("status");
        String ns = doc.path("metadata").path("namespace").asText(ctx.isNamespaceScoped() ? "default" : null);
        GenericKubernetesResource obj = client.getKubernetesSerialization().unmarshal(JSON.writeValueAsString(doc),
                GenericKubernetesResource.class);
        var op = ctx.isNamespaceScoped() ? client.genericKubernetesResources(ctx).inNamespace(ns)
                : client.genericKubernetesResources(ctx);
        GenericKubernetesResource existing = op.withName(obj.getMetadata().getName()).get();
        GenericKubernetesResource stored;
        if (existing == null) {
            stored = op.resource(obj).create();
        } else {
            obj.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
            stored = op.resource(obj).update();
        }
        if (status != null) {
            stored.setAdditionalProperty("status", JSON.convertValue(status, Object.class));
            op.resource(stored).updateStatus();
        }
    }

    /** Deletes one object. */
    public void delete(String apiVersion, String kind, String namespace, String name) {
        ResourceDefinitionContext ctx = context(apiVersion, kind);
        (ctx.isNamespaceScoped() ? client.genericKubernetesResources(ctx).inNamespace(namespace)
                : client.genericKubernetesResources(ctx)).withName(name).delete();
    }

    /** One object as stored, or null. */
    public GenericKubernetesResource get(String apiVersion, String kind, String namespace, String name) {
        ResourceDefinitionContext ctx = context(apiVersion, kind);
        return (ctx.isNamespaceScoped() ? client.genericKubernetesResources(ctx).inNamespace(namespace)
                : client.genericKubernetesResources(ctx)).withName(name).get();
    }

    /** The object's status as a Jackson tree (missing node when none). */
    public JsonNode status(String apiVersion, String kind, String namespace, String name) throws IOException {
        GenericKubernetesResource o = get(apiVersion, kind, namespace, name);
        return o == null ? null : JSON.readTree(client.getKubernetesSerialization().asJson(o)).path("status");
    }

    /** Method and path of each status write (PUT or PATCH .../status) received, the test's own included. */
    public List<String> statusWrites() {
        return new ArrayList<>(statusWrites);
    }

    /** Watch requests received so far. */
    public int watchRequests() {
        return watchRequests.get();
    }

    /** Lists and watches of Secrets are answered 403 (the chart's {@code rbac.readRegistrySecrets} off). */
    public void forbidSecrets(boolean forbid) {
        forbidSecrets = forbid;
    }

    /** The paths (with query) of every GET (list or watch) of Secrets so far. */
    public List<String> secretRequests() {
        return List.copyOf(secretRequests);
    }

    /** Lists and watches of CustomResourceDefinitions are answered 403 (no RBAC for them). */
    public void forbidCrdReads(boolean forbid) {
        forbidCrdReads = forbid;
    }

    /**
     * Lists and watches of {@code plural} are answered 404, as a real API server does for a kind
     * whose CRD is not installed (the CRUD mock serves any path once asked).
     */
    public void notServed(String plural, boolean notServed) {
        if (notServed) {
            this.notServed.add(plural);
        } else {
            this.notServed.remove(plural);
        }
    }

    /** The next {@code n} watch requests are answered {@code 410 Gone} (at the handshake). */
    public void goneAtHandshake(int n) {
        goneAtHandshake.set(n);
    }

    /** The next {@code n} watches get an ERROR event with a 410 Status as their first message. */
    public void goneInWatch(int n) {
        goneInWatch.set(n);
    }

    /** Stops the server (connections refused); the content stays for {@link #comeBack()}. */
    public void goAway() {
        stopServer();
    }

    /** Starts the server again on the same address and port, with the same content. */
    public void comeBack() {
        startServer(port);
    }

    private static ResourceDefinitionContext context(String apiVersion, String kind) {
        int slash = apiVersion.indexOf('/');
        String group = slash < 0 ? "" : apiVersion.substring(0, slash);
        String version = apiVersion.substring(slash + 1);
        WatchedKind k = null;
        for (WatchedKind w : WatchedKinds.forWaypoint("istio-system", "istio-system")) {
            if (w.kind().equals(kind) && w.group().equals(group)) {
                k = w;
            }
        }
        if (k == null) {
            throw new IllegalArgumentException("kind: " + apiVersion + " " + kind + " (expected: a kind the waypoint watches)");
        }
        return new ResourceDefinitionContext.Builder().withGroup(group).withVersion(version).withKind(kind)
                .withPlural(k.plural()).withNamespaced(k.namespaced()).build();
    }

    @Override
    public void close() {
        client.close();
        stopServer();
    }

    /**
     * Vert.x waits 10 s for open connections to close and then throws; a watch WebSocket of a
     * client that was just closed can still be open then. One more try, then it is left to the JVM
     * (every test binds a fresh port).
     */
    private void stopServer() {
        try {
            server.destroy();
        } catch (IllegalStateException first) {
            try {
                server.destroy();
            } catch (IllegalStateException again) {
                System.err.println("MockKubeApi: the mock server did not stop: " + again);
            }
        }
    }
}
