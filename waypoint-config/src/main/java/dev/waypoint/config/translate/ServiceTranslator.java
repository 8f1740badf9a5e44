package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.isLabel;
import static dev.waypoint.config.translate.ObjectContext.isPortName;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code v1 Service} → {@link ServiceSpec}. */
final class ServiceTranslator {
    private static final String TARGET_PORT = "1-65535 or a port name";

    private ServiceTranslator() {}

    static ServiceSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, Map<String, String> labels) {
        JsonNode spec = ctx.object(tree, "", "spec");
        List<InetAddress> vips = clusterIps(ctx, spec);
        List<ServicePortSpec> ports = ports(ctx, spec);
        // k8s: "If empty or not present, the service is assumed to have an external process managing
        // its endpoints" (EndpointSlices); an empty map selects nothing, so it means the same here.
        Map<String, String> selector = null;
        if (child(spec, "selector") != null) {
            Map<String, String> s = ctx.stringMap(spec, "spec", "selector");
            selector = s.isEmpty() ? null : s;
        }
        return new ServiceSpec(name, labels, vips, ports, selector, ctx.source());
    }

    /** {@code spec.clusterIPs}, else {@code spec.clusterIP}; {@code None} or nothing means headless. */
    private static List<InetAddress> clusterIps(ObjectContext ctx, JsonNode spec) {
        List<InetAddress> out = new ArrayList<>();
        if (child(spec, "clusterIPs") != null) {
            List<JsonNode> ips = ctx.list(spec, "spec", "clusterIPs");
            for (int i = 0; i < ips.size(); i++) {
                JsonNode ip = ips.get(i);
                if (isHeadless(ip)) {
                    return List.of();
                }
                InetAddress a = ctx.ip(ip, index("spec.clusterIPs", i), "clusterIPs");
                if (a != null) {
                    out.add(a);
                }
            }
            return out;
        }
        JsonNode ip = child(spec, "clusterIP");
        if (ip == null || isHeadless(ip)) {
            return List.of();
        }
        InetAddress a = ctx.ip(ip, "spec.clusterIP", "clusterIP");
        return a == null ? List.of() : List.of(a);
    }

    private static boolean isHeadless(JsonNode ip) {
        return ip.isTextual() && (ip.textValue().equals("None") || ip.textValue().isEmpty());
    }

    private static List<ServicePortSpec> ports(ObjectContext ctx, JsonNode spec) {
        List<ServicePortSpec> out = new ArrayList<>();
        Map<Integer, String> used = new HashMap<>();
        List<JsonNode> ports = ctx.list(spec, "spec", "ports");
        for (int i = 0; i < ports.size(); i++) {
            String p = index("spec.ports", i);
            JsonNode port = ctx.element(ports.get(i), p, "ports[" + i + "]");
            if (port == null) {
                continue;
            }
            String portName = ctx.string(port, p, "name");
            if (portName != null && !portName.isEmpty() && !isLabel(portName)) {
                ctx.error(path(p, "name"), message("name", portName, ObjectContext.DNS1123_LABEL));
            }
            int number = ctx.port(port, p, "port");
            int targetNumber = number;
            String targetName = null;
            JsonNode target = child(port, "targetPort");
            if (target != null) {
                if (target.isTextual()) {
                    targetNumber = 0;
                    targetName = target.textValue();
                    if (!isPortName(targetName)) {
                        ctx.error(path(p, "targetPort"), message("targetPort", renderJson(target), TARGET_PORT));
                    }
                } else {
                    targetNumber = ctx.portValue(target, path(p, "targetPort"), "targetPort", TARGET_PORT);
                }
            }
            String appProtocol = ctx.string(port, p, "appProtocol");
            String protocol = ctx.string(port, p, "protocol");
            if (protocol != null && !protocol.equals("TCP")) {
                if (protocol.equals("UDP") || protocol.equals("SCTP")) {
                    // a waypoint only carries HBONE, which tunnels TCP
                    ctx.warning(path(p, "protocol"), message("protocol", protocol, "TCP; the port is dropped"));
                } else {
                    ctx.error(path(p, "protocol"), message("protocol", protocol, "TCP, UDP or SCTP"));
                }
                continue;
            }
            if (number != 0) {
                // the API server rejects a repeated (port, protocol); only TCP ports are left here
                String first = used.putIfAbsent(number, p);
                if (first != null) {
                    ctx.error(path(p, "port"), message("port", Integer.toString(number), "unique; " + first + " has it"));
                    continue;
                }
            }
            out.add(new ServicePortSpec(portName == null ? "" : portName, number, targetNumber, targetName, appProtocol));
        }
        return out;
    }
}
