package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code networking.istio.io/v1} (and {@code v1beta1}) {@code ServiceEntry} → {@link ServiceEntrySpec},
 * {@code WorkloadEntry} → {@link WorkloadEntrySpec}. Field meanings from istio/api
 * {@code networking/v1alpha3/service_entry.proto} and {@code workload_entry.proto}.
 *
 * <p>Without {@code spec.addresses}, the addresses istiod allocated ({@code status.addresses}) are
 * the entry's (see {@link #allocated}).
 *
 * <p>An address that is a CIDR range (other than {@code /32} or {@code /128}) is dropped with a
 * warning and the rest of the entry kept: the waypoint resolves targets by exact VIP, so a
 * connection to an address inside the range is not resolved to this entry (it is refused, never
 * served unchecked). Istio's own {@code samples/external/github.yaml} mixes ranges with addresses.
 *
 * <p>Refused with an error (the object is dropped): no {@code hosts}; an address that is neither
 * an IP nor a CIDR range; {@code resolution: DYNAMIC_DNS} (the dynamic forward proxy is
 * not implemented); {@code STATIC} with an endpoint whose address is not an IP; {@code DNS} with
 * a wildcard host and no endpoints; a {@code workloadSelector} together with {@code endpoints}
 * (the API says they are mutually exclusive). Ports whose protocol is UDP are dropped with a
 * warning, as for Services.
 */
final class ServiceEntryTranslator {
    private static final Set<String> SPEC_FIELDS = Set.of("hosts", "addresses", "ports", "location", "resolution",
            "endpoints", "workloadSelector", "exportTo", "subjectAltNames");
    private static final Set<String> WORKLOAD_FIELDS = Set.of("address", "ports", "labels", "network", "locality",
            "weight", "serviceAccount");
    private static final Set<String> PROTOCOLS = Set.of("HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS", "UDP");

    /** The label that opts a ServiceEntry out of istiod's address allocation ({@code "false"}). */
    static final String AUTOALLOCATE_LABEL = "networking.istio.io/enable-autoallocate-ip";

    private ServiceEntryTranslator() {}

    /**
     * The addresses istiod allocated to an entry without {@code spec.addresses} and written to
     * {@code status.addresses} ({@code [{value: 240.240.0.1, host: httpbin.org}]}): Istio's address
     * allocator (on by default, {@code PILOT_ENABLE_IP_AUTOALLOCATE}) gives such an entry a VIP, which
     * ztunnel's DNS proxy answers for its hosts, so a client's CONNECT comes to that VIP. Used only
     * where Istio uses them ({@code shouldV2AutoAllocateIPFromPieces}): no {@code spec.addresses},
     * a resolution other than {@code NONE}, and not opted out with the label. A value that is not
     * an IP is skipped with a warning (status is written by istiod, not by the user).
     */
    private static List<InetAddress> allocated(ObjectContext ctx, JsonNode tree) {
        JsonNode status = child(tree, "status");
        JsonNode list = child(status, "addresses");
        if (list == null || !list.isArray()) {
            return List.of();
        }
        List<InetAddress> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode value = child(list.get(i), "value");
            String p = index("status.addresses", i) + ".value";
            try {
                if (value == null || !value.isTextual()) {
                    throw new IllegalArgumentException("not a string");
                }
                InetAddress ip = HostPort.parseIp(value.textValue());
                if (!out.contains(ip)) {
                    out.add(ip);
                }
            } catch (IllegalArgumentException e) {
                ctx.warning(p, message("value", value == null ? "missing" : value.toString(),
                        "an IP address allocated by istiod; skipped"));
            }
        }
        return out;
    }

    /** {@code ip/bits} with an IP literal and 0-32 (IPv4) or 0-128 (IPv6) bits. */
    private static boolean isCidr(String text) {
        int slash = text.indexOf('/');
        String bits = text.substring(slash + 1);
        if (bits.isEmpty() || bits.length() > 3 || !bits.chars().allMatch(Character::isDigit)) {
            return false;
        }
        try {
            InetAddress ip = HostPort.parseIp(text.substring(0, slash));
            return Integer.parseInt(bits) <= (ip.getAddress().length == 4 ? 32 : 128);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static ServiceEntrySpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, Map<String, String> labels) {
        JsonNode spec = ctx.object(tree, "", "spec");
        if (spec == null) {
            ctx.error("spec", message("spec", "missing", "an object with hosts"));
            return null;
        }
        ctx.knownFields(spec, "spec", SPEC_FIELDS);
        List<String> hosts = ctx.stringList(spec, "spec", "hosts");
        if (hosts.isEmpty() && child(spec, "hosts") == null) {
            ctx.error("spec.hosts", message("hosts", "missing", "at least one host name"));
        }
        List<InetAddress> addresses = new ArrayList<>();
        List<JsonNode> addressNodes = ctx.list(spec, "spec", "addresses");
        for (int i = 0; i < addressNodes.size(); i++) {
            JsonNode a = addressNodes.get(i);
            String p = index("spec.addresses", i);
            if (a.isTextual() && a.textValue().contains("/")) {
                String text = a.textValue();
                String bits = text.substring(text.indexOf('/') + 1);
                // a single host only when the prefix is the whole address: /32 for IPv4, /128 for IPv6
                // (an IPv6 /32 is a range, which was read as its first address)
                boolean v6 = text.substring(0, text.indexOf('/')).contains(":");
                if (bits.equals(v6 ? "128" : "32")) {
                    InetAddress ip = parseIp(ctx, text.substring(0, text.indexOf('/')), p);
                    if (ip != null) {
                        addresses.add(ip);
                    }
                } else if (isCidr(text)) {
                    ctx.warning(p, message("addresses[" + i + "]", text, "an IP address; CIDR ranges are not matched "
                            + "by this waypoint yet, so the range is dropped and connections to it are not resolved to this entry"));
                } else {
                    ctx.error(p, message("addresses[" + i + "]", text, "an IP address or a CIDR range"));
                }
                continue;
            }
            InetAddress ip = ctx.ip(a, p, "addresses[" + i + "]");
            if (ip != null) {
                addresses.add(ip);
            }
        }
        List<ServicePortSpec> ports = ports(ctx, spec);
        ServiceEntrySpec.Location location = ServiceEntrySpec.Location.MESH_EXTERNAL;
        String loc = ctx.string(spec, "spec", "location");
        if (loc != null) {
            switch (loc) {
                case "MESH_EXTERNAL" -> location = ServiceEntrySpec.Location.MESH_EXTERNAL;
                case "MESH_INTERNAL" -> location = ServiceEntrySpec.Location.MESH_INTERNAL;
                default -> ctx.error("spec.location", message("location", loc, "MESH_EXTERNAL or MESH_INTERNAL"));
            }
        }
        // "resolution: NONE" is the proto default
        ServiceEntrySpec.Resolution resolution = ServiceEntrySpec.Resolution.NONE;
        String res = ctx.string(spec, "spec", "resolution");
        if (res != null) {
            switch (res) {
                case "NONE" -> resolution = ServiceEntrySpec.Resolution.NONE;
                case "STATIC" -> resolution = ServiceEntrySpec.Resolution.STATIC;
                case "DNS", "DNS_ROUND_ROBIN" -> resolution = ServiceEntrySpec.Resolution.DNS;
                case "DYNAMIC_DNS" -> ctx.error("spec.resolution", message("resolution", res,
                        "NONE, STATIC, DNS or DNS_ROUND_ROBIN; DYNAMIC_DNS is not supported by this waypoint"));
                default -> ctx.error("spec.resolution", message("resolution", res, "NONE, STATIC, DNS or DNS_ROUND_ROBIN"));
            }
        }
        List<WorkloadEndpointSpec> endpoints = new ArrayList<>();
        List<JsonNode> endpointNodes = ctx.list(spec, "spec", "endpoints");
        for (int i = 0; i < endpointNodes.size(); i++) {
            String p = index("spec.endpoints", i);
            JsonNode e = ctx.element(endpointNodes.get(i), p, "endpoints[" + i + "]");
            if (e == null) {
                continue;
            }
            WorkloadEndpointSpec w = workload(ctx, e, p, resolution == ServiceEntrySpec.Resolution.DNS);
            if (w != null) {
                endpoints.add(w);
            }
        }
        Map<String, String> selector = null;
        JsonNode ws = ctx.object(spec, "spec", "workloadSelector");
        if (ws != null) {
            selector = ctx.stringMap(ws, "spec.workloadSelector", "labels");
            if (!endpoints.isEmpty() || child(spec, "endpoints") != null) {
                // service_entry.proto: "workloadSelector ... Only one of endpoints or workloadSelector can be specified"
                ctx.error("spec.workloadSelector", message("workloadSelector", "set with endpoints",
                        "either endpoints or workloadSelector"));
            }
        }
        if (resolution == ServiceEntrySpec.Resolution.DNS && endpoints.isEmpty()) {
            for (int i = 0; i < hosts.size(); i++) {
                if (hosts.get(i).startsWith("*")) {
                    ctx.error(index("spec.hosts", i), message("hosts[" + i + "]", hosts.get(i),
                            "a host name that resolves (resolution: DNS without endpoints resolves the hosts)"));
                }
            }
        }
        if (addresses.isEmpty() && addressNodes.isEmpty() && resolution != ServiceEntrySpec.Resolution.NONE
                && !"false".equalsIgnoreCase(labels.get(AUTOALLOCATE_LABEL))) {
            addresses.addAll(allocated(ctx, tree));
        }
        List<String> exportTo = ctx.stringList(spec, "spec", "exportTo");
        for (int i = 0; i < exportTo.size(); i++) {
            String e = exportTo.get(i);
            if (!e.equals(".") && !e.equals("*") && !e.equals("~") && !ObjectContext.isLabel(e)) {
                ctx.error(index("spec.exportTo", i), message("exportTo[" + i + "]", e,
                        "'.', '*', '~' or a namespace name (" + ObjectContext.DNS1123_LABEL + ")"));
            }
        }
        if (exportTo.size() > 1 && (exportTo.contains("~") || exportTo.contains("*"))) {
            ctx.warning("spec.exportTo", message("exportTo", exportTo.toString(),
                    "'*' or '~' alone (Istio refuses them mixed with other values); read as written"));
        }
        return new ServiceEntrySpec(name, labels, hosts, addresses, ports, location, resolution, endpoints, selector,
                ctx.source(), exportTo);
    }

    static WorkloadEntrySpec translateWorkloadEntry(ObjectContext ctx, JsonNode tree, NamespacedName name,
                                                    Map<String, String> labels) {
        JsonNode spec = ctx.object(tree, "", "spec");
        if (spec == null) {
            ctx.error("spec", message("spec", "missing", "an object with address"));
            return null;
        }
        WorkloadEndpointSpec w = workload(ctx, spec, "spec", false);
        if (w == null) {
            return null;
        }
        // istio uses the spec's labels, falling back to the object's (workloadentry controller)
        Map<String, String> merged = new LinkedHashMap<>(labels);
        merged.putAll(w.labels());
        w = new WorkloadEndpointSpec(w.address(), w.ip(), w.ports(), merged, w.serviceAccount(), w.weight());
        return new WorkloadEntrySpec(name, labels, w, ctx.source());
    }

    /** One WorkloadEntry message; a DNS name is accepted for the address only when {@code dnsName}. */
    private static WorkloadEndpointSpec workload(ObjectContext ctx, JsonNode node, String p, boolean dnsName) {
        ctx.knownFields(node, p, WORKLOAD_FIELDS);
        String address = ctx.requiredString(node, p, "address", dnsName ? "an IP address or a DNS name" : "an IP address");
        InetAddress ip = null;
        if (address != null) {
            if (address.startsWith("unix://")) {
                ctx.error(path(p, "address"), message("address", address, "an IP address (unix sockets are not reachable)"));
            } else if (looksLikeIp(address)) {
                ip = parseIp(ctx, address, path(p, "address"));
            } else if (!dnsName) {
                ctx.error(path(p, "address"), message("address", address, "an IP address"));
            } else if (!ObjectContext.isSubdomain(address.toLowerCase(Locale.ROOT))) {
                ctx.error(path(p, "address"), message("address", address, "an IP address or a DNS name"));
            }
        }
        Map<String, Integer> ports = new HashMap<>();
        JsonNode portsNode = ctx.object(node, p, "ports");
        if (portsNode != null) {
            portsNode.properties().forEach(e -> {
                int n = ctx.portValue(e.getValue(), path(path(p, "ports"), e.getKey()), e.getKey(), ObjectContext.PORT_RANGE);
                if (n > 0) {
                    ports.put(e.getKey(), n);
                }
            });
        }
        Map<String, String> labels = ctx.stringMap(node, p, "labels");
        String sa = ctx.string(node, p, "serviceAccount");
        int weight = ctx.integer(node, p, "weight", 0, Integer.MAX_VALUE, 0);
        return new WorkloadEndpointSpec(address == null ? "" : address, ip, ports, labels, sa, weight);
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
            ctx.knownFields(port, p, Set.of("number", "protocol", "name", "targetPort"));
            int number = ctx.port(port, p, "number");
            String portName = ctx.requiredString(port, p, "name", "a port name");
            String protocol = ctx.string(port, p, "protocol");
            int target = number;
            if (child(port, "targetPort") != null) {
                target = ctx.portValue(child(port, "targetPort"), path(p, "targetPort"), "targetPort", ObjectContext.PORT_RANGE);
            }
            if (protocol != null) {
                String upper = protocol.toUpperCase(Locale.ROOT);
                if (!PROTOCOLS.contains(upper)) {
                    ctx.error(path(p, "protocol"), message("protocol", protocol, "one of " + String.join(", ",
                            new java.util.TreeSet<>(PROTOCOLS))));
                    continue;
                }
                if (upper.equals("UDP")) {
                    ctx.warning(path(p, "protocol"), message("protocol", protocol, "a TCP protocol; the port is dropped"));
                    continue;
                }
            }
            if (number != 0) {
                String first = used.putIfAbsent(number, p);
                if (first != null) {
                    ctx.error(path(p, "number"), message("number", Integer.toString(number), "unique; " + first + " has it"));
                    continue;
                }
            }
            // the port's protocol takes appProtocol's place: "HTTP" reads as http, "TLS" as opaque TCP
            out.add(new ServicePortSpec(portName == null ? "" : portName, number, target, null,
                    protocol == null ? null : protocol.toLowerCase(Locale.ROOT)));
        }
        return out;
    }

    private static boolean looksLikeIp(String s) {
        return s.indexOf(':') >= 0 || s.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    }

    private static InetAddress parseIp(ObjectContext ctx, String text, String p) {
        try {
            return HostPort.parseIp(text);
        } catch (IllegalArgumentException e) {
            ctx.error(p, message(p.substring(p.lastIndexOf('.') + 1), render(new com.fasterxml.jackson.databind.node.TextNode(text)),
                    ObjectContext.IP));
            return null;
        }
    }
}
