package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.isSubdomain;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code v1 Pod} → {@link PodSpec}, with the workload it belongs to derived from
 * {@code metadata.generateName} and the controlling {@code ownerReference} as Istio derives it
 * ({@link PodWorkloads}), and what decides whether it is an endpoint and how it is reached:
 * readiness, {@code metadata.deletionTimestamp}, {@code spec.hostNetwork}, and the
 * {@code sidecar.istio.io/status} and {@code ambient.istio.io/redirection} annotations.
 */
final class PodTranslator {
    /** Written by Istio's sidecar injector: the pod has a sidecar (istio/api annotation SidecarStatus). */
    static final String SIDECAR_STATUS = "sidecar.istio.io/status";
    /** Written by the istio-cni node agent: {@code enabled} once captured, {@code pending} before. */
    static final String AMBIENT_REDIRECTION = "ambient.istio.io/redirection";
    static final String REDIRECTION_ENABLED = "enabled";

    private PodTranslator() {}

    static PodSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, Map<String, String> labels) {
        JsonNode spec = ctx.object(tree, "", "spec");
        JsonNode status = ctx.object(tree, "", "status");

        // spec.serviceAccount is the deprecated alias of serviceAccountName
        String saField = "serviceAccountName";
        String sa = ctx.string(spec, "spec", saField);
        if (sa == null) {
            saField = "serviceAccount";
            sa = ctx.string(spec, "spec", saField);
        }
        if (sa == null || sa.isEmpty()) {
            sa = "default";
        } else if (!isSubdomain(sa)) {
            ctx.error(path("spec", saField), message(saField, sa, ObjectContext.DNS1123_SUBDOMAIN));
        }

        InetAddress ip = null;
        JsonNode podIp = child(status, "podIP");
        if (podIp != null && !(podIp.isTextual() && podIp.textValue().isEmpty())) {
            ip = ctx.ip(podIp, "status.podIP", "podIP");
        }

        boolean ready = true;
        String phase = ctx.string(status, "status", "phase");
        if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
            ready = false;
        }
        List<JsonNode> conditions = ctx.list(status, "status", "conditions");
        for (int i = 0; i < conditions.size(); i++) {
            JsonNode c = ctx.element(conditions.get(i), index("status.conditions", i), "conditions[" + i + "]");
            if (c != null && "Ready".equals(text(c, "type")) && "False".equals(text(c, "status"))) {
                ready = false;
            }
        }

        JsonNode metadata = ctx.object(tree, "", "metadata");
        // Istio: "if !IsPodReady(p) || p.DeletionTimestamp != nil { UNHEALTHY }"; only its presence counts
        boolean terminating = child(metadata, "deletionTimestamp") != null;
        boolean hostNetwork = ctx.bool(spec, "spec", "hostNetwork", false);
        // read leniently: the API server has them as strings, and no other annotation is checked here
        JsonNode annotations = child(metadata, "annotations");
        boolean sidecar = child(annotations, SIDECAR_STATUS) != null;
        boolean redirected = REDIRECTION_ENABLED.equals(text(annotations, AMBIENT_REDIRECTION));

        return new PodSpec(name, labels, sa, ip, ready, namedPorts(ctx, spec), ctx.source(),
                workload(ctx, metadata, name.name(), labels), terminating, hostNetwork, sidecar, redirected);
    }

    /** {@code metadata.generateName} and {@code metadata.ownerReferences} to the pod's workload, as Istio derives it. */
    private static dev.waypoint.model.mesh.WorkloadRef workload(ObjectContext ctx, JsonNode metadata, String podName,
                                                                Map<String, String> labels) {
        String generateName = ctx.string(metadata, "metadata", "generateName");
        List<JsonNode> refs = ctx.list(metadata, "metadata", "ownerReferences");
        List<PodWorkloads.Owner> owners = new java.util.ArrayList<>(refs.size());
        for (int i = 0; i < refs.size(); i++) {
            String rp = index("metadata.ownerReferences", i);
            JsonNode ref = ctx.element(refs.get(i), rp, "ownerReferences[" + i + "]");
            if (ref == null) {
                continue;
            }
            String apiVersion = ctx.string(ref, rp, "apiVersion");
            String kind = ctx.requiredString(ref, rp, "kind", "a kind (ReplicaSet, Job, StatefulSet, ...)");
            String owner = ctx.requiredString(ref, rp, "name", "the owner's name");
            boolean controller = ctx.bool(ref, rp, "controller", false);
            if (kind != null && owner != null) {
                owners.add(new PodWorkloads.Owner(apiVersion, kind, owner, controller));
            }
        }
        return PodWorkloads.derive(podName, generateName, labels, owners);
    }

    private static String text(JsonNode node, String key) {
        JsonNode n = child(node, key);
        return n != null && n.isTextual() ? n.textValue() : null;
    }

    /** Container port names, for Services whose {@code targetPort} is a name. */
    private static Map<String, Integer> namedPorts(ObjectContext ctx, JsonNode spec) {
        Map<String, Integer> out = new LinkedHashMap<>();
        List<JsonNode> containers = ctx.list(spec, "spec", "containers");
        for (int i = 0; i < containers.size(); i++) {
            String cp = index("spec.containers", i);
            JsonNode container = ctx.element(containers.get(i), cp, "containers[" + i + "]");
            List<JsonNode> ports = ctx.list(container, cp, "ports");
            for (int j = 0; j < ports.size(); j++) {
                String pp = index(path(cp, "ports"), j);
                JsonNode port = ctx.element(ports.get(j), pp, "ports[" + j + "]");
                if (port == null) {
                    continue;
                }
                int number = ctx.port(port, pp, "containerPort");
                String portName = ctx.string(port, pp, "name");
                String protocol = ctx.string(port, pp, "protocol");
                // a named UDP port must not satisfy a TCP Service's targetPort
                if (portName == null || number == 0 || (protocol != null && !protocol.equals("TCP"))) {
                    continue;
                }
                if (out.putIfAbsent(portName, number) != null) {
                    ctx.warning(path(pp, "name"), message("name", portName, "unique in the pod; the first one is used"));
                }
            }
        }
        return out;
    }
}
