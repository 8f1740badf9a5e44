package dev.waypoint.config;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a snapshot for the admin {@code config_dump} endpoint: pretty JSON with
 * {@code generation}, {@code services}, {@code workloads}, {@code endpointSlices},
 * {@code gateways} and {@code diagnostics}, then each extra section the caller adds (the server
 * adds {@code bindings}). Built with Jackson's tree model; label maps are sorted so that equal
 * snapshots dump to equal text.
 */
public final class ConfigDump {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final List<String> BUILT_IN =
            List.of("generation", "services", "workloads", "endpointSlices", "gateways", "diagnostics");

    private ConfigDump() {}

    /**
     * The dump of {@code snapshot}.
     *
     * @param extraSections section name → value made of {@link Map}s, {@link List}s, strings,
     *        numbers, booleans and nulls (anything else is rendered with {@code toString()}),
     *        appended in the map's order
     * @throws IllegalArgumentException if an extra section reuses a built-in name
     */
    public static String toJson(ConfigSnapshot snapshot, Map<String, Object> extraSections) {
        requireNonNull(snapshot, "snapshot");
        requireNonNull(extraSections, "extraSections");
        ResourceSet r = snapshot.resources();
        ObjectNode root = NODES.objectNode();
        root.put("generation", snapshot.generation());

        ArrayNode services = root.putArray("services");
        for (ServiceSpec s : r.services()) {
            services.add(service(s));
        }
        ArrayNode workloads = root.putArray("workloads");
        for (PodSpec p : r.pods()) {
            ObjectNode w = workloads.addObject();
            w.put("name", p.name().toString());
            w.put("ip", p.ip() == null ? null : p.ip().getHostAddress());
            w.put("serviceAccount", p.serviceAccount());
            w.put("ready", p.ready());
            w.put("terminating", p.terminating());
            w.set("labels", strings(p.labels()));
            w.put("source", p.source().toString());
        }
        ArrayNode slices = root.putArray("endpointSlices");
        for (EndpointSliceSpec e : r.endpointSlices()) {
            slices.add(slice(e));
        }
        ArrayNode gateways = root.putArray("gateways");
        for (GatewaySpec g : r.gateways()) {
            gateways.add(gateway(g));
        }
        ArrayNode diagnostics = root.putArray("diagnostics");
        for (Diagnostics.Problem p : snapshot.problems()) {
            diagnostics.add(p.toString());
        }

        extraSections.forEach((name, value) -> {
            if (BUILT_IN.contains(name)) {
                throw new IllegalArgumentException("extraSections: " + name + " (expected: not one of " + BUILT_IN + ")");
            }
            root.set(name, plain(value));
        });
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always serializes", e);
        }
    }

    /**
     * The ServiceEntries and WorkloadEntries of {@code resources}, as plain maps for an extra
     * section of {@link #toJson}: name, hosts, addresses, ports, location, resolution, endpoints.
     */
    public static List<Map<String, Object>> serviceEntries(ResourceSet resources) {
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        for (dev.waypoint.model.mesh.ServiceEntrySpec se : resources.serviceEntries()) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("kind", "ServiceEntry");
            m.put("name", se.name().toString());
            m.put("hosts", se.hosts());
            m.put("addresses", se.addresses().stream().map(InetAddress::getHostAddress).toList());
            m.put("ports", se.ports().stream().map(p -> p.name() + " " + p.port() + "->" + p.targetPortNumber() + " "
                    + p.protocol().name()).toList());
            m.put("location", se.location().name());
            m.put("resolution", se.resolution().name());
            m.put("endpoints", se.endpoints().stream().map(e -> e.address() + (e.ports().isEmpty() ? "" : " " + e.ports())).toList());
            m.put("workloadSelector", se.workloadSelector());
            m.put("source", se.source().toString());
            out.add(m);
        }
        for (dev.waypoint.model.mesh.WorkloadEntrySpec we : resources.workloadEntries()) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("kind", "WorkloadEntry");
            m.put("name", we.name().toString());
            m.put("address", we.workload().address());
            m.put("labels", we.workload().labels());
            m.put("serviceAccount", we.workload().serviceAccount());
            m.put("source", we.source().toString());
            out.add(m);
        }
        return out;
    }

    private static ObjectNode service(ServiceSpec s) {
        ObjectNode o = NODES.objectNode();
        o.put("name", s.name().toString());
        ArrayNode vips = o.putArray("vips");
        for (InetAddress a : s.clusterIps()) {
            vips.add(a.getHostAddress());
        }
        ArrayNode ports = o.putArray("ports");
        for (ServicePortSpec p : s.ports()) {
            ObjectNode port = ports.addObject();
            port.put("name", p.name());
            port.put("port", p.port());
            port.put("protocol", p.protocol().name());
            if (p.targetPortName() != null) {
                port.put("targetPort", p.targetPortName());
            } else {
                port.put("targetPort", p.targetPortNumber());
            }
            if (p.appProtocol() != null) {
                port.put("appProtocol", p.appProtocol());
            }
        }
        // null: endpoints come from EndpointSlices
        o.set("selector", s.selector() == null ? NODES.nullNode() : strings(s.selector()));
        o.set("labels", strings(s.labels()));
        o.put("source", s.source().toString());
        return o;
    }

    private static ObjectNode slice(EndpointSliceSpec e) {
        ObjectNode o = NODES.objectNode();
        o.put("name", e.name().toString());
        o.put("service", e.service().toString());
        ArrayNode endpoints = o.putArray("endpoints");
        for (EndpointSliceSpec.Endpoint ep : e.endpoints()) {
            ObjectNode n = endpoints.addObject();
            ArrayNode addresses = n.putArray("addresses");
            ep.addresses().forEach(a -> addresses.add(a.getHostAddress()));
            n.put("ready", ep.ready());
            n.put("pod", ep.pod() == null ? null : ep.pod().toString());
        }
        ArrayNode ports = o.putArray("ports");
        for (EndpointSliceSpec.Port p : e.ports()) {
            ObjectNode port = ports.addObject();
            port.put("name", p.name());
            port.put("port", p.port());
            if (p.appProtocol() != null) {
                port.put("appProtocol", p.appProtocol());
            }
        }
        o.put("source", e.source().toString());
        return o;
    }

    private static ObjectNode gateway(GatewaySpec g) {
        ObjectNode o = NODES.objectNode();
        o.put("name", g.name().toString());
        o.put("className", g.className());
        ArrayNode listeners = o.putArray("listeners");
        for (GatewaySpec.Listener l : g.listeners()) {
            listeners.addObject().put("name", l.name()).put("port", l.port()).put("protocol", l.protocol());
        }
        o.put("allowedNamespaces", g.allowedNamespaces());
        o.set("namespaceSelector", selector(g.namespaceSelector()));
        o.put("source", g.source().toString());
        return o;
    }

    /** The selector as it is written in a manifest; an empty part is left out, so {@code {}} is {@code { }}. */
    private static ObjectNode selector(LabelSelector s) {
        ObjectNode o = NODES.objectNode();
        if (!s.matchLabels().isEmpty()) {
            o.set("matchLabels", strings(s.matchLabels()));
        }
        if (!s.matchExpressions().isEmpty()) {
            ArrayNode expressions = o.putArray("matchExpressions");
            for (LabelSelector.Requirement r : s.matchExpressions()) {
                ObjectNode e = expressions.addObject().put("key", r.key()).put("operator", r.operator().apiName());
                if (!r.values().isEmpty()) {
                    r.values().forEach(e.putArray("values")::add);
                }
            }
        }
        return o;
    }

    private static ObjectNode strings(Map<String, String> map) {
        ObjectNode o = NODES.objectNode();
        new TreeMap<>(map).forEach(o::put);
        return o;
    }

    /** Plain Java values to a tree, without reflection. */
    private static JsonNode plain(Object value) {
        if (value == null) {
            return NODES.nullNode();
        }
        if (value instanceof Map<?, ?> map) {
            ObjectNode o = NODES.objectNode();
            map.forEach((k, v) -> o.set(String.valueOf(k), plain(v)));
            return o;
        }
        if (value instanceof Iterable<?> list) {
            ArrayNode a = NODES.arrayNode();
            list.forEach(v -> a.add(plain(v)));
            return a;
        }
        if (value instanceof Boolean b) {
            return NODES.booleanNode(b);
        }
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            return NODES.numberNode(((Number) value).longValue());
        }
        if (value instanceof Number n) {
            return NODES.numberNode(n.doubleValue());
        }
        return NODES.textNode(value.toString());
    }
}
