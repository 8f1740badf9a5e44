package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.isSubdomain;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/** {@code discovery.k8s.io/v1 EndpointSlice} → {@link EndpointSliceSpec}. */
final class EndpointSliceTranslator {
    static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private EndpointSliceTranslator() {}

    /** Null when the slice is skipped (FQDN), with a warning. */
    static EndpointSliceSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        NamespacedName service = service(ctx, tree, name.namespace());

        String addressType = ctx.requiredString(tree, "", "addressType", "IPv4, IPv6 or FQDN");
        boolean v4;
        if (addressType == null) {
            v4 = true;
        } else {
            switch (addressType) {
                case "IPv4" -> v4 = true;
                case "IPv6" -> v4 = false;
                case "FQDN" -> {
                    // an FQDN endpoint has no address to open an HBONE tunnel to
                    ctx.warning("addressType", message("addressType", addressType, "IPv4 or IPv6; the slice is skipped"));
                    return null;
                }
                default -> {
                    ctx.error("addressType", message("addressType", addressType, "IPv4, IPv6 or FQDN"));
                    v4 = true;
                }
            }
        }

        List<EndpointSliceSpec.Endpoint> endpoints = new ArrayList<>();
        List<JsonNode> eps = ctx.list(tree, "", "endpoints");
        for (int i = 0; i < eps.size(); i++) {
            String p = index("endpoints", i);
            JsonNode ep = ctx.element(eps.get(i), p, "endpoints[" + i + "]");
            if (ep != null) {
                endpoints.add(endpoint(ctx, ep, p, v4, addressType != null, name.namespace()));
            }
        }

        List<EndpointSliceSpec.Port> ports = new ArrayList<>();
        List<JsonNode> ps = ctx.list(tree, "", "ports");
        for (int i = 0; i < ps.size(); i++) {
            String p = index("ports", i);
            JsonNode port = ctx.element(ps.get(i), p, "ports[" + i + "]");
            if (port == null) {
                continue;
            }
            String portName = ctx.string(port, p, "name");
            int number = ctx.port(port, p, "port");
            String appProtocol = ctx.string(port, p, "appProtocol");
            String protocol = ctx.string(port, p, "protocol");
            // UDP/SCTP: the Service port they mirror was already dropped with a warning
            if (protocol == null || protocol.equals("TCP")) {
                ports.add(new EndpointSliceSpec.Port(portName == null ? "" : portName, number, appProtocol));
            }
        }
        return new EndpointSliceSpec(name, service, endpoints, ports, ctx.source());
    }

    private static NamespacedName service(ObjectContext ctx, JsonNode tree, String namespace) {
        String field = path(path("metadata", "labels"), SERVICE_NAME_LABEL);
        JsonNode label = child(child(child(tree, "metadata"), "labels"), SERVICE_NAME_LABEL);
        if (label == null) {
            ctx.error(field, message(SERVICE_NAME_LABEL, "missing", "the name of the Service this slice belongs to"));
            return null;
        }
        if (!label.isTextual()) {
            return null; // reported with the other labels
        }
        if (!isSubdomain(label.textValue())) {
            ctx.error(field, message(SERVICE_NAME_LABEL, label.textValue(), ObjectContext.DNS1123_SUBDOMAIN));
            return null;
        }
        return new NamespacedName(namespace, label.textValue());
    }

    private static EndpointSliceSpec.Endpoint endpoint(ObjectContext ctx, JsonNode ep, String p, boolean v4,
                                                       boolean checkFamily, String sliceNamespace) {
        List<InetAddress> addresses = new ArrayList<>();
        String ap = path(p, "addresses");
        if (child(ep, "addresses") == null) {
            ctx.error(ap, message("addresses", "missing", "1 or more IP literals"));
        }
        List<JsonNode> as = ctx.list(ep, p, "addresses");
        for (int j = 0; j < as.size(); j++) {
            InetAddress a = ctx.ip(as.get(j), index(ap, j), "addresses");
            if (a == null) {
                continue;
            }
            if (checkFamily && (a instanceof Inet4Address) != v4) {
                ctx.error(index(ap, j), message("addresses", as.get(j).textValue(),
                        v4 ? "an IPv4 literal (addressType: IPv4)" : "an IPv6 literal (addressType: IPv6)"));
                continue;
            }
            addresses.add(a);
        }

        // discovery/v1: "ready ... A nil value should be interpreted as 'true'"
        JsonNode conditions = ctx.object(ep, p, "conditions");
        boolean ready = ctx.bool(conditions, path(p, "conditions"), "ready", true);

        NamespacedName pod = null;
        String tp = path(p, "targetRef");
        JsonNode targetRef = ctx.object(ep, p, "targetRef");
        if (targetRef != null && "Pod".equals(ctx.string(targetRef, tp, "kind"))) {
            String podName = ctx.requiredString(targetRef, tp, "name", ObjectContext.DNS1123_SUBDOMAIN);
            String podNamespace = ctx.string(targetRef, tp, "namespace");
            if (podName != null) {
                pod = new NamespacedName(podNamespace == null || podNamespace.isEmpty() ? sliceNamespace : podNamespace,
                        podName);
            }
        }
        return new EndpointSliceSpec.Endpoint(addresses, ready, pod);
    }
}
