package dev.waypoint.kube;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.SourceRef;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The informer's cache for one kind, which is also the feed's content: each object is stripped
 * ({@link ObjectStripper}) and turned into the {@link WireObject} the translator reads as it is
 * stored, and the informer keeps only a stub (name, namespace, resource version, uid). No full
 * object outlives the event that brought it.
 *
 * <h2>Threading</h2>
 * Written by the informer's thread, read by the config executor: concurrent maps. Every change
 * that alters a stripped object bumps the shared version counter the publisher polls.
 */
final class KindStore implements ItemStore<GenericKubernetesResource> {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final WatchedKind kind;
    private final String apiVersion;
    private final KubernetesSerialization serialization;
    private final AtomicLong version;
    private final Map<String, GenericKubernetesResource> stubs = new ConcurrentHashMap<>();
    private final Map<String, WireObject> objects = new ConcurrentHashMap<>();
    /** Kinds whose status this waypoint writes: their status as the API server has it is kept too. */
    static final java.util.Set<String> STATUS_KINDS = java.util.Set.of("HTTPRoute", "GRPCRoute",
            "AuthorizationPolicy", "RequestAuthentication", "TCPRoute", "TLSRoute");

    /**
     * An object's status as last seen, for the status writer (which then needs no GET: the
     * waypoint's RBAC is list/watch plus get/patch on the status subresources).
     *
     * @param status the {@code status} object (a missing node when none)
     * @param resourceVersion sent with the patch, so that a write in between makes it fail (409)
     * @param generation {@code metadata.generation}, for {@code observedGeneration}
     */
    record Seen(JsonNode status, String resourceVersion, long generation) {}

    private final Map<String, Seen> statuses = new ConcurrentHashMap<>();

    /** Whether this store is the one the feed reads: only then is a change a new version. */
    private volatile boolean live;

    KindStore(WatchedKind kind, String apiVersion, KubernetesSerialization serialization, AtomicLong version) {
        this.kind = kind;
        this.apiVersion = apiVersion;
        this.serialization = serialization;
        this.version = version;
    }

    void live(boolean live) {
        this.live = live;
    }

    /** The status of the object {@code namespace/name}, for the kinds of {@link #STATUS_KINDS}; null if unknown. */
    Seen status(String namespace, String name) {
        return statuses.get(namespace + "/" + name);
    }

    /** Key → the stripped object, as the translator will read it. */
    Map<String, WireObject> objects() {
        return objects;
    }

    @Override
    public String getKey(GenericKubernetesResource obj) {
        return Cache.metaNamespaceKeyFunc(obj);
    }

    @Override
    public GenericKubernetesResource put(String key, GenericKubernetesResource obj) {
        if (!selected(obj)) {
            // the API server should not have sent it (field selector); never keep, never look at its data
            remove(key);
            return stubs.put(key, stub(obj));
        }
        WireObject wire = wire(obj, key);
        WireObject old = objects.put(key, wire);
        if (live && (old == null || !old.tree().equals(wire.tree()))) {
            version.incrementAndGet();
        }
        return stubs.put(key, stub(obj));
    }

    @Override
    public GenericKubernetesResource remove(String key) {
        statuses.remove(key);
        if (objects.remove(key) != null && live) {
            version.incrementAndGet();
        }
        return stubs.remove(key);
    }

    @Override
    public Stream<String> keySet() {
        return stubs.keySet().stream();
    }

    @Override
    public Stream<GenericKubernetesResource> values() {
        return stubs.values().stream();
    }

    @Override
    public int size() {
        return stubs.size();
    }

    @Override
    public GenericKubernetesResource get(String key) {
        return stubs.get(key);
    }

    @Override
    public boolean isFullState() {
        return false;
    }

    /** The field selector checked again here (an API server or mock that ignores it): only {@code type}. */
    private boolean selected(GenericKubernetesResource obj) {
        if (!"type".equals(kind.selectorField())) {
            return true;
        }
        return kind.selectorValue().equals(obj.getAdditionalProperties().get("type"));
    }

    private WireObject wire(GenericKubernetesResource obj, String key) {
        ObjectNode tree;
        try {
            // fabric8 8 serializes with Jackson 3; the translators read Jackson 2 trees
            JsonNode parsed = JSON.readTree(serialization.asJson(obj));
            tree = parsed instanceof ObjectNode o ? o : JSON.createObjectNode();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("fabric8 wrote JSON Jackson cannot read: " + e.getOriginalMessage(), e);
        }
        // list items from the API server carry no apiVersion/kind; the translator needs both
        tree.put("apiVersion", apiVersion);
        tree.put("kind", kind.kind());
        if (STATUS_KINDS.contains(kind.kind())) {
            JsonNode m0 = tree.path("metadata");
            statuses.put(key, new Seen(tree.path("status").deepCopy(), m0.path("resourceVersion").asText(null),
                    m0.path("generation").asLong(0)));
        }
        ObjectStripper.strip(tree, kind.kind());
        ObjectMeta m = obj.getMetadata();
        String where = "api:" + kind.kind() + "/" + (m.getNamespace() == null ? "" : m.getNamespace() + "/") + m.getName();
        return new WireObject(tree, new SourceRef(where, 0));
    }

    private static GenericKubernetesResource stub(GenericKubernetesResource obj) {
        GenericKubernetesResource s = new GenericKubernetesResource();
        s.setApiVersion(obj.getApiVersion());
        s.setKind(obj.getKind());
        ObjectMeta m = new ObjectMeta();
        m.setName(obj.getMetadata().getName());
        m.setNamespace(obj.getMetadata().getNamespace());
        m.setResourceVersion(obj.getMetadata().getResourceVersion());
        m.setUid(obj.getMetadata().getUid());
        s.setMetadata(m);
        return s;
    }
}
