package dev.waypoint.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * Cuts an object from the API server down to what the translators read, before it is stored
 * (the issue: "only what the waypoint needs is kept in memory (no managed fields, no full pod
 * specs)").
 *
 * <ul>
 *   <li>{@code metadata}: name, namespace, labels and annotations (without kubectl's
 *       {@code last-applied-configuration} copy of the whole object), and a Pod's
 *       {@code deletionTimestamp} (a terminating pod is no endpoint), {@code generateName} and
 *       owner references (apiVersion, kind, name, controller: its workload in metrics); no
 *       managed fields, other owner references, finalizers, other timestamps or
 *       {@code resourceVersion}, so that an update that changes only those (or only
 *       {@code status}) leaves the stripped object equal and makes no new generation;</li>
 *   <li>{@code status}: dropped, except a Pod's {@code podIP}, {@code podIPs}, {@code phase} and
 *       the type and status of its conditions (readiness);</li>
 *   <li>a Pod's {@code spec}: the service account, the node, {@code hostNetwork} (never in the
 *       ambient mesh), and each container's name and ports (named ports); nothing else of the pod
 *       template survives;</li>
 *   <li>a ConfigMap (the mesh config): its {@code mesh} key only;</li>
 *   <li>a Secret (registry types, and Opaque and TLS Secrets of the waypoint's namespace, are
 *       watched): metadata name and namespace only, its {@code type}, and the data keys its type
 *       uses ({@code .dockerconfigjson} or {@code .dockercfg}; {@code cert}, {@code key},
 *       {@code cacert}, {@code tls.crt}, {@code tls.key} and {@code ca.crt} for TLS material);
 *       labels, annotations and every other key are dropped.</li>
 * </ul>
 * Everything else (the spec of a route or policy) is kept as it came: it is config.
 *
 * <h2>Threading</h2>
 * Pure; mutates and returns the tree it is given.
 */
final class ObjectStripper {
    static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
    private static final Set<String> METADATA = Set.of("name", "namespace", "labels", "annotations");
    /**
     * A terminating pod is no endpoint (set once, when the pod is deleted: no churn);
     * {@code generateName} and the owner references name its workload (PodWorkloads, in the translator).
     */
    private static final Set<String> POD_METADATA = Set.of("name", "namespace", "labels", "annotations",
            "deletionTimestamp", "generateName", "ownerReferences");
    /** What the workload derivation reads of an owner reference (not its uid or blockOwnerDeletion). */
    private static final Set<String> OWNER_REFERENCE = Set.of("apiVersion", "kind", "name", "controller");
    /** {@code hostNetwork}: such a pod is never in the ambient mesh (reached in plaintext). */
    private static final Set<String> POD_SPEC = Set.of("serviceAccountName", "serviceAccount", "nodeName", "hostNetwork");
    /** What a DestinationRule's {@code credentialName} reads of a Secret (Istio's two key sets). */
    private static final List<String> TLS_KEYS = List.of("cert", "key", "cacert", "tls.crt", "tls.key", "ca.crt");
    private static final Set<String> POD_STATUS = Set.of("podIP", "podIPs", "phase");

    private ObjectStripper() {}

    static ObjectNode strip(ObjectNode tree, String kind) {
        JsonNode metadata = tree.get("metadata");
        if (metadata instanceof ObjectNode m) {
            m.retain(kind.equals("Pod") ? POD_METADATA : METADATA);
            if (m.get("annotations") instanceof ObjectNode a) {
                a.remove(LAST_APPLIED);
                if (a.isEmpty()) {
                    m.remove("annotations");
                }
            }
        }
        switch (kind) {
            case "Pod" -> stripPod(tree);
            case "ConfigMap" -> {
                tree.remove(List.of("status", "binaryData"));
                if (tree.get("data") instanceof ObjectNode d) {
                    d.retain("mesh");
                }
            }
            case "Secret" -> stripSecret(tree);
            case "ServiceEntry" -> {
                // istiod's allocated addresses (an entry without spec.addresses is addressed by them)
                if (tree.get("status") instanceof ObjectNode status) {
                    status.retain("addresses");
                    if (status.isEmpty()) {
                        tree.remove("status");
                    }
                }
            }
            default -> tree.remove("status");
        }
        return tree;
    }

    private static void stripSecret(ObjectNode tree) {
        if (tree.get("metadata") instanceof ObjectNode m) {
            m.retain("name", "namespace");
        }
        String type = tree.path("type").asText("");
        List<String> keys = switch (type) {
            case "kubernetes.io/dockerconfigjson" -> List.of(".dockerconfigjson");
            case "kubernetes.io/dockercfg" -> List.of(".dockercfg");
            case "Opaque", "kubernetes.io/tls" -> TLS_KEYS;
            default -> List.of();
        };
        tree.retain("apiVersion", "kind", "metadata", "type", "data");
        if (tree.get("data") instanceof ObjectNode d) {
            d.retain(keys);
            if (d.isEmpty()) {
                tree.remove("data");
            }
        }
    }

    private static void stripPod(ObjectNode tree) {
        if (tree.get("metadata") instanceof ObjectNode m && m.get("ownerReferences") instanceof ArrayNode refs) {
            for (JsonNode r : refs) {
                if (r instanceof ObjectNode ref) {
                    ref.retain(OWNER_REFERENCE);
                }
            }
        }
        if (tree.get("spec") instanceof ObjectNode spec) {
            JsonNode containers = spec.get("containers");
            spec.retain(POD_SPEC);
            if (containers instanceof ArrayNode list) {
                ArrayNode kept = spec.putArray("containers");
                for (JsonNode c : list) {
                    if (c instanceof ObjectNode container) {
                        kept.add(container.retain("name", "ports"));
                    }
                }
            }
        }
        if (tree.get("status") instanceof ObjectNode status) {
            JsonNode conditions = status.get("conditions");
            status.retain(POD_STATUS);
            if (conditions instanceof ArrayNode list) {
                ArrayNode kept = status.putArray("conditions");
                for (JsonNode c : list) {
                    if (c instanceof ObjectNode condition) {
                        kept.add(condition.retain("type", "status"));
                    }
                }
            }
        }
    }
}
