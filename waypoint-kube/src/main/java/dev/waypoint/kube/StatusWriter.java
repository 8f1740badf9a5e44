package dev.waypoint.kube;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the status {@link StatusPlan} decides back to the API server, for each published
 * generation: take the object's status as the informer last saw it, replace only our own entries
 * (HTTPRoute, GRPCRoute, TCPRoute and TLSRoute {@code status.parents[]} of our {@code controllerName}; the policy condition of our
 * own type), and, only when that changes the status, send a JSON Patch of the {@code status}
 * subresource that tests the {@code resourceVersion} seen. A conflict (someone, say istiod, wrote
 * in between) is retried once the informer has the newer version. Never server-side apply or
 * strategic merge.
 *
 * <h2>Threading</h2>
 * {@link #onSnapshot} is called by the publisher on the config thread and only hands the latest
 * snapshot over; the reads and writes run on this writer's own {@code kube-status} thread, the
 * newest snapshot replacing one not yet written (a burst of generations makes one pass). Every
 * {@value #RECHECK_MINUTES} minutes every object is read again, so that our entries removed by
 * someone else come back; in between, an object whose desired status did not change is not read.
 */
public final class StatusWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StatusWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long RETRY_SECONDS = 5;
    /** How often every object we own status on is read again, even when nothing changed here. */
    static final long RECHECK_MINUTES = 5;

    private final KubernetesSource source;
    private final KubernetesClient client;
    private final String controllerName;
    private final String rootNamespace;
    private final Clock clock;
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kube-status");
        t.setDaemon(true);
        return t;
    });
    private final AtomicReference<Pending> pending = new AtomicReference<>();
    private volatile Pending latest;
    // confined to the kube-status thread
    private final Map<String, JsonNode> written = new HashMap<>();
    private volatile long writes;
    private volatile long conflicts;
    private volatile String lastError;

    private record Pending(ConfigSnapshot snapshot, Set<NamespacedName> bound, Set<NamespacedName> boundEntries) {}

    /**
     * A writer for the objects {@code source} watches.
     *
     * @param controllerName our {@code controllerName} ({@link KubeSettings#controllerName()})
     * @param rootNamespace Istio's root namespace (GatewayClass-targeted policies live there)
     */
    public StatusWriter(KubernetesSource source, KubernetesClient client, String controllerName, String rootNamespace,
                        Clock clock) {
        this.source = requireNonNull(source, "source");
        this.client = requireNonNull(client, "client");
        this.controllerName = requireNonNull(controllerName, "controllerName");
        this.rootNamespace = requireNonNull(rootNamespace, "rootNamespace");
        this.clock = requireNonNull(clock, "clock");
        // someone else (a person, a tool) may have removed our entries: read every object again now and then
        executor.scheduleWithFixedDelay(this::recheck, RECHECK_MINUTES, RECHECK_MINUTES, TimeUnit.MINUTES);
    }

    private void recheck() {
        written.clear();
        Pending p = latest;
        if (p != null && pending.compareAndSet(null, p)) {
            drain();
        }
    }

    /**
     * A new generation is in force; writes the status it implies.
     *
     * @param bound the Services bound to this waypoint in that generation
     * @param boundEntries the ServiceEntries bound to this waypoint in that generation
     */
    public void onSnapshot(ConfigSnapshot snapshot, Set<NamespacedName> bound, Set<NamespacedName> boundEntries) {
        Pending p = new Pending(snapshot, Set.copyOf(bound), Set.copyOf(boundEntries));
        latest = p;
        if (pending.getAndSet(p) == null) {
            executor.execute(this::drain);
        }
    }

    /** The {@code statusWritten} section of {@code /config_dump}. */
    public Map<String, Object> debug() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("controllerName", controllerName);
        d.put("policyCondition", StatusPlan.conditionType(controllerName));
        d.put("writes", writes);
        d.put("conflicts", conflicts);
        d.put("lastError", lastError);
        return d;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }

    private void drain() {
        Pending p = pending.getAndSet(null);
        if (p == null) {
            return;
        }
        boolean ok;
        try {
            ok = writeAll(p);
        } catch (RuntimeException e) {
            ok = false;
            lastError = e.toString();
            log.warn("status: {}", e.toString());
        }
        if (!ok && pending.compareAndSet(null, p)) {
            // retry the same generation unless a newer one arrives first
            executor.schedule(this::drain, RETRY_SECONDS, TimeUnit.SECONDS);
        }
    }

    private boolean writeAll(Pending p) {
        ResourceSet r = p.snapshot().resources();
        NamespacedName waypoint = r.waypoint();
        List<StatusPlan.Desired> desired = new ArrayList<>();
        for (String kind : List.of("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")) {
            desired.addAll(StatusPlan.routes(kind, source.objectsOf(kind).values(), p.bound(), p.boundEntries(),
                    p.snapshot().problems(), controllerName));
        }
        desired.addAll(StatusPlan.policies("AuthorizationPolicy", source.objectsOf("AuthorizationPolicy").values(),
                p.bound(), p.boundEntries(), waypoint, rootNamespace, p.snapshot().problems(), controllerName));
        desired.addAll(StatusPlan.policies("RequestAuthentication", source.objectsOf("RequestAuthentication").values(),
                p.bound(), p.boundEntries(), waypoint, rootNamespace, p.snapshot().problems(), controllerName));
        Map<String, StatusPlan.Desired> byKey = new LinkedHashMap<>();
        for (StatusPlan.Desired d : desired) {
            byKey.put(d.key(), d);
        }
        // objects we wrote before and no longer claim: take our entries off again
        for (String key : List.copyOf(written.keySet())) {
            if (!byKey.containsKey(key)) {
                String[] k = key.split("/", 3);
                byKey.put(key, new StatusPlan.Desired(k[0], k[1], k[2], StatusPlan.isRoute(k[0]) ? JSON.createArrayNode() : null));
            }
        }
        boolean ok = true;
        for (StatusPlan.Desired d : byKey.values()) {
            if (written.containsKey(d.key()) && Objects.equals(written.get(d.key()), d.ours())) {
                continue;
            }
            ok &= write(d);
        }
        return ok;
    }

    /**
     * Merge our part into the status as the informer last saw it and, if that changes it, send a
     * JSON Patch (RFC 6902) of the status subresource: a {@code test} of the {@code resourceVersion}
     * seen, then the whole list ({@code parents} or {@code conditions}) replaced. A write in between
     * fails the test (422, or 409), retried once the informer has seen the newer version. False:
     * retry later. No GET and no PUT: the chart's RBAC is list/watch plus get/patch on the status
     * subresources. Not a JSON merge patch: the mock API server appends arrays on a merge patch
     * instead of replacing them (RFC 7386), which would duplicate other controllers' entries there,
     * and the same list replacement is exactly what a JSON Patch {@code add} says.
     */
    private boolean write(StatusPlan.Desired d) {
        ResourceDefinitionContext ctx = source.context(d.kind());
        KindStore.Seen seen = source.status(d.kind(), d.namespace(), d.name());
        if (ctx == null || seen == null) {
            written.remove(d.key()); // the object is gone (or not listed yet): nothing to write on
            return true;
        }
        try {
            ObjectNode status = seen.status() instanceof ObjectNode s ? s.deepCopy() : JSON.createObjectNode();
            JsonNode before = status.deepCopy();
            String field;
            if (StatusPlan.isRoute(d.kind())) {
                mergeParents(status, (ArrayNode) d.ours(), seen.generation());
                field = "parents";
            } else {
                mergeCondition(status, StatusPlan.conditionType(controllerName), (ObjectNode) d.ours(), seen.generation());
                field = "conditions";
            }
            if (!status.equals(before)) {
                ArrayNode patch = JSON.createArrayNode();
                if (seen.resourceVersion() != null) {
                    // the precondition: nobody wrote since the informer saw this version
                    patch.addObject().put("op", "test").put("path", "/metadata/resourceVersion")
                            .put("value", seen.resourceVersion());
                }
                JsonNode list = status.has(field) ? status.get(field) : JSON.createArrayNode();
                if (seen.status() instanceof ObjectNode) {
                    // "add" on an existing member replaces it: the whole list, every other controller's entries plus ours
                    patch.addObject().put("op", "add").put("path", "/status/" + field).set("value", list);
                } else {
                    ObjectNode whole = JSON.createObjectNode();
                    whole.set(field, list);
                    patch.addObject().put("op", "add").put("path", "/status").set("value", whole);
                }
                client.genericKubernetesResources(ctx).inNamespace(d.namespace()).withName(d.name()).subresource("status")
                        .patch(PatchContext.of(PatchType.JSON), JSON.writeValueAsString(patch));
                writes++;
                log.info("status of {} {}/{} written", d.kind(), d.namespace(), d.name());
            }
            if (d.ours() == null || d.ours().isEmpty()) {
                written.remove(d.key());
            } else {
                written.put(d.key(), d.ours());
            }
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409 || e.getCode() == 422) {
                conflicts++; // 422: the resourceVersion test failed (someone wrote in between)
            } else if (e.getCode() == 404) {
                written.remove(d.key());
                return true;
            }
            lastError = d.key() + ": " + e.getMessage();
            log.warn("status of {}: {}; retrying", d.key(), e.getMessage());
            return false;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("status JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** status.parents: every entry of another controller as it was, then ours. */
    private void mergeParents(ObjectNode status, ArrayNode ours, long generation) {
        ArrayNode old = status.get("parents") instanceof ArrayNode a ? a : JSON.createArrayNode();
        ArrayNode merged = JSON.createArrayNode();
        Map<String, JsonNode> previousOurs = new HashMap<>();
        for (JsonNode e : old) {
            if (controllerName.equals(e.path("controllerName").asText())) {
                previousOurs.put(e.path("parentRef").toString(), e);
            } else {
                merged.add(e);
            }
        }
        for (JsonNode e : ours) {
            ObjectNode entry = e.deepCopy();
            JsonNode prev = previousOurs.get(e.path("parentRef").toString());
            ArrayNode conditions = (ArrayNode) entry.get("conditions");
            for (JsonNode c : conditions) {
                stamp((ObjectNode) c, prev == null ? null : find(prev.path("conditions"), c.path("type").asText()), generation);
            }
            merged.add(entry);
        }
        if (merged.isEmpty() && !status.has("parents")) {
            return;
        }
        status.set("parents", merged);
    }

    /** status.conditions: every condition of another type as it was, then ours (or none). */
    private void mergeCondition(ObjectNode status, String type, ObjectNode ours, long generation) {
        ArrayNode old = status.get("conditions") instanceof ArrayNode a ? a : JSON.createArrayNode();
        ArrayNode merged = JSON.createArrayNode();
        for (JsonNode c : old) {
            if (!type.equals(c.path("type").asText())) {
                merged.add(c);
            }
        }
        if (ours != null) {
            ObjectNode c = ours.deepCopy();
            stamp(c, find(old, type), generation);
            merged.add(c);
        }
        if (merged.isEmpty() && !status.has("conditions")) {
            return;
        }
        status.set("conditions", merged);
    }

    /** observedGeneration, and lastTransitionTime kept while the condition's status stays the same. */
    private void stamp(ObjectNode c, JsonNode previous, long generation) {
        c.put("observedGeneration", generation);
        if (previous != null && previous.path("status").asText().equals(c.path("status").asText())
                && previous.hasNonNull("lastTransitionTime")) {
            c.set("lastTransitionTime", previous.get("lastTransitionTime"));
        } else {
            c.put("lastTransitionTime", clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
        }
    }

    private static JsonNode find(JsonNode conditions, String type) {
        for (JsonNode c : conditions) {
            if (type.equals(c.path("type").asText())) {
                return c;
            }
        }
        return null;
    }
}
