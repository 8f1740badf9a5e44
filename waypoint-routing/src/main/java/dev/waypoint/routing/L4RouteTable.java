package dev.waypoint.routing;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * TCPRoutes and TLSRoutes per Service port, compiled once per snapshot by {@link L4RouteCompiler}.
 * Immutable; {@link #tcp} and {@link #tls} are pure decisions (the picker is the only input that
 * varies).
 */
public final class L4RouteTable {
    /** The snapshot key of this part. */
    public static final SnapshotPart<L4RouteTable> PART = SnapshotPart.of("l4Routes", L4RouteTable.class);

    /**
     * A Service port, for every caller ({@code consumer} null: the producer routes) or for callers
     * from namespace {@code consumer} (the consumer routes declared there).
     */
    record Key(NamespacedName service, int port, String consumer, boolean serviceEntry) {
        @Override
        public String toString() {
            return (serviceEntry ? "ServiceEntry " : "") + service + ":" + port + (consumer == null ? "" : " (consumer " + consumer + ")");
        }
    }

    /** One backendRef: {@code target} null when unusable ({@code invalid} says why). */
    record Backend(RouteSelection.Backend target, String invalid, int weight) {}

    /**
     * One attached route's first rule: its weighted backends and, for a TLSRoute, its SNI names
     * (empty: every SNI).
     */
    record Route(String routeName, List<String> hostnames, List<Backend> backends, int totalWeight) {
        Route {
            hostnames = List.copyOf(hostnames);
            backends = List.copyOf(backends);
        }

        L4Decision pick(BackendPicker picker) {
            if (totalWeight == 0) {
                return new L4Decision.Reject(routeName, new Rejection(Rejection.Reason.ROUTE_INVALID,
                        routeName + ": every backendRef has weight 0"));
            }
            int r = backends.size() == 1 ? 0 : picker.next(totalWeight);
            for (Backend b : backends) {
                r -= b.weight();
                if (r < 0) {
                    return b.target() == null
                            ? new L4Decision.Reject(routeName, new Rejection(Rejection.Reason.ROUTE_INVALID, routeName + ": " + b.invalid()))
                            : new L4Decision.Forward(routeName, b.target());
                }
            }
            throw new IllegalStateException("weights changed under the picker");
        }
    }

    /**
     * The routes of one port: the TCPRoute in force (the oldest, when several attach), and the
     * TLSRoutes' SNI names in match order (exact names, then wildcards longest first, then
     * routes without hostnames; ties to the oldest route).
     */
    record PortRoutes(Route tcp, List<SniEntry> tls) {
        PortRoutes {
            tls = List.copyOf(tls);
        }
    }

    /** One SNI name of a TLSRoute ({@code *} for a route without hostnames). */
    record SniEntry(String hostname, Route route) {}

    private final Map<Key, PortRoutes> ports;

    L4RouteTable(Map<Key, PortRoutes> ports) {
        this.ports = Map.copyOf(ports);
    }

    /**
     * The routes a caller from {@code caller} (a namespace; null when unknown) sees on the target's
     * port: the consumer routes of its namespace when there are any, else the producer routes.
     */
    private PortRoutes routes(Target target, String caller) {
        NamespacedName parent;
        int port;
        boolean entry;
        if (target instanceof Target.ServiceTarget s) {
            parent = s.service().name();
            port = s.port().port();
            entry = false;
        } else if (target instanceof Target.ServiceEntryTarget se) {
            parent = se.entry().name();
            port = se.port().port();
            entry = true;
        } else {
            return null;
        }
        if (caller != null && !caller.equals(parent.namespace())) {
            PortRoutes own = ports.get(new Key(parent, port, caller, entry));
            if (own != null) {
                return own;
            }
        }
        return ports.get(new Key(parent, port, null, entry));
    }

    /** Whether TLSRoutes attach to the target's port: its connections must be read up to the ClientHello. */
    public boolean hasTls(Target target) {
        return hasTls(target, null);
    }

    /** As {@link #hasTls(Target)}, for a caller from namespace {@code caller} (null: unknown, producer routes). */
    public boolean hasTls(Target target, String caller) {
        PortRoutes r = routes(target, caller);
        return r != null && !r.tls().isEmpty();
    }

    /** The route of a TCP connection to {@code target} (TCPRoute, weighted per connection). */
    public L4Decision tcp(Target target, BackendPicker picker) {
        return tcp(target, null, picker);
    }

    /** As {@link #tcp(Target, BackendPicker)}, for a caller from namespace {@code caller} (null: unknown). */
    public L4Decision tcp(Target target, String caller, BackendPicker picker) {
        PortRoutes r = routes(target, caller);
        if (r == null || r.tcp() == null) {
            return L4Decision.DEFAULT;
        }
        return r.tcp().pick(picker);
    }

    /**
     * The route of a TLS connection to {@code target} whose ClientHello names {@code sni} (null
     * when it names none): the first matching TLSRoute name, else the port's TCPRoute, else
     * closed ("a ClientHello without a matching SNI is closed").
     */
    public L4Decision tls(Target target, String sni, BackendPicker picker) {
        return tls(target, null, sni, picker);
    }

    /** As {@link #tls(Target, String, BackendPicker)}, for a caller from namespace {@code caller} (null: unknown). */
    public L4Decision tls(Target target, String caller, String sni, BackendPicker picker) {
        PortRoutes r = routes(target, caller);
        if (r == null || r.tls().isEmpty()) {
            return tcp(target, caller, picker);
        }
        String name = sni == null ? null : sni.toLowerCase(Locale.ROOT);
        for (SniEntry e : r.tls()) {
            if (SniMatch.matches(e.hostname(), name)) {
                return e.route().pick(picker);
            }
        }
        if (r.tcp() != null) {
            return r.tcp().pick(picker);
        }
        return new L4Decision.Reject(null, new Rejection(Rejection.Reason.ROUTE_NOT_FOUND, "no TLSRoute of "
                + target + " matches SNI " + (sni == null ? "(none)" : sni)));
    }

    /**
     * For the config dump and goldens: {@code "ns/svc:port" -> ["tcp r.ns.0 -> Service ns/b:80 w1", "tls *.a.com r2..."]};
     * consumer routes under {@code "ns/svc:port (consumer NS)"}.
     */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        ports.entrySet().stream().sorted(Map.Entry.comparingByKey(
                java.util.Comparator.comparing((Key k) -> k.serviceEntry()).thenComparing((Key k) -> k.service().toString())
                        .thenComparingInt(Key::port)
                        .thenComparing(k -> k.consumer() == null ? "" : k.consumer())))
                .forEach(e -> {
                    List<String> lines = new java.util.ArrayList<>();
                    if (e.getValue().tcp() != null) {
                        lines.add("tcp " + describe(e.getValue().tcp()));
                    }
                    for (SniEntry s : e.getValue().tls()) {
                        lines.add("tls " + s.hostname() + " " + describe(s.route()));
                    }
                    out.put(e.getKey().toString(), List.copyOf(lines));
                });
        return out;
    }

    private static String describe(Route r) {
        StringBuilder b = new StringBuilder(r.routeName()).append(" ->");
        for (Backend backend : r.backends()) {
            b.append(' ').append(backend.target() != null ? backend.target().toString() : "invalid(" + backend.invalid() + ")")
                    .append(" w").append(backend.weight());
        }
        return b.toString();
    }
}
