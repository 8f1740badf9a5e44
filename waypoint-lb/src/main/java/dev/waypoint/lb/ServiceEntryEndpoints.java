package dev.waypoint.lb;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Endpoints of every ServiceEntry port, compiled once per snapshot by
 * {@link ServiceEntryEndpointCompiler}: the addresses known at compile time (static endpoints,
 * selected Pods and WorkloadEntries) and the DNS names to resolve ({@code resolution: DNS}).
 * Immutable.
 */
public final class ServiceEntryEndpoints {
    /** The snapshot key of this part. */
    public static final SnapshotPart<ServiceEntryEndpoints> PART =
            SnapshotPart.of("serviceEntryEndpoints", ServiceEntryEndpoints.class);

    /** A ServiceEntry port. */
    record Key(NamespacedName entry, int port) {}

    /**
     * A name to resolve for a port: each of its addresses becomes an endpoint on {@code port}.
     *
     * @param identity the SPIFFE ID for HBONE ({@code MESH_INTERNAL}), or null for plaintext
     */
    record DnsName(String host, int port, SpiffeId identity) {
        @Override
        public String toString() {
            return host + ":" + port + (identity != null ? " (hbone " + identity + ")" : " (plaintext)");
        }
    }

    private static final ServiceEntryEndpoints EMPTY = new ServiceEntryEndpoints(Map.of(), Map.of());

    private final Map<Key, List<Endpoint>> fixed;
    private final Map<Key, List<DnsName>> dns;
    /** The DestinationRule policy of each port whose entry's host a rule names. */
    private final Map<Key, LbPolicy> policies;
    private final Map<Key, int[]> weights;

    ServiceEntryEndpoints(Map<Key, List<Endpoint>> fixed, Map<Key, List<DnsName>> dns) {
        this(fixed, dns, Map.of(), Map.of());
    }

    /**
     * @param policies the DestinationRule policy of each port whose entry's host a rule names
     * @param weights per port, the {@code weight} of each fixed endpoint (same order), only for
     *        ports whose endpoints' weights differ
     */
    ServiceEntryEndpoints(Map<Key, List<Endpoint>> fixed, Map<Key, List<DnsName>> dns, Map<Key, LbPolicy> policies,
                          Map<Key, int[]> weights) {
        this.fixed = Map.copyOf(fixed);
        this.dns = Map.copyOf(dns);
        this.policies = Map.copyOf(policies);
        this.weights = Map.copyOf(weights);
    }

    /** The port's compiled DestinationRule policy, or null (no rule names the entry's host). */
    LbPolicy policy(NamespacedName entry, int port) {
        return policies.get(new Key(entry, port));
    }

    /** Compiled policies for the config dump: {@code "serviceentry ns/name:port" -> policy}. */
    public Map<String, Object> policiesDebug() {
        Map<String, Object> out = new java.util.TreeMap<>();
        policies.forEach((k, v) -> out.put("serviceentry " + k.entry() + ":" + k.port(), v.debug()));
        return out;
    }

    /**
     * The {@code weight} of each of {@link #fixed}'s endpoints (same order, each at least 1), or
     * null when they all weigh the same (then the port's balancer picks alone).
     */
    int[] weights(NamespacedName entry, int port) {
        return weights.isEmpty() ? null : weights.get(new Key(entry, port));
    }

    /**
     * The part of {@code snapshot}, or an empty one when no {@link ServiceEntryEndpointCompiler}
     * ran (a snapshot made for a test of Services only).
     */
    static ServiceEntryEndpoints of(dev.waypoint.model.ConfigSnapshot snapshot) {
        try {
            return snapshot.part(PART);
        } catch (IllegalStateException e) {
            return EMPTY;
        }
    }

    /** Endpoints with an address known now (STATIC, selected workloads, IP endpoints of DNS entries). */
    List<Endpoint> fixed(NamespacedName entry, int port) {
        return fixed.getOrDefault(new Key(entry, port), List.of());
    }

    /** Names to resolve for a port ({@code resolution: DNS}); empty otherwise. */
    List<DnsName> dns(NamespacedName entry, int port) {
        return dns.getOrDefault(new Key(entry, port), List.of());
    }

    /** Every DNS name of every port (what the resolver keeps fresh). */
    Set<String> dnsHosts() {
        Set<String> out = new LinkedHashSet<>();
        dns.values().forEach(l -> l.forEach(n -> out.add(n.host())));
        return out;
    }

    /** Every endpoint of every port whose address is known. */
    List<Endpoint> allFixed() {
        return fixed.values().stream().flatMap(List::stream).toList();
    }

    /** One port's endpoints for {@code explain}: the fixed ones, then {@code dns <host>:<port>} per name. */
    public List<String> debug(NamespacedName entry, int port) {
        List<String> out = new java.util.ArrayList<>();
        List<Endpoint> eps = fixed(entry, port);
        int[] w = weights(entry, port);
        for (int i = 0; i < eps.size(); i++) {
            out.add(eps.get(i) + (w != null ? " weight " + w[i] : ""));
        }
        dns(entry, port).forEach(n -> out.add("dns " + n));
        return List.copyOf(out);
    }

    /** For the config dump: {@code "ns/name:port" -> ["1.2.3.4:443 (plaintext)", "dns api.example.com:443 (plaintext)"]}. */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        fixed.forEach((k, v) -> out.computeIfAbsent(k.entry() + ":" + k.port(), x -> new java.util.ArrayList<>())
                .addAll(debug(k.entry(), k.port()).stream().filter(s -> !s.startsWith("dns ")).toList()));
        dns.forEach((k, v) -> out.computeIfAbsent(k.entry() + ":" + k.port(), x -> new java.util.ArrayList<>())
                .addAll(v.stream().map(n -> "dns " + n).toList()));
        out.replaceAll((k, v) -> List.copyOf(v));
        return out;
    }
}
