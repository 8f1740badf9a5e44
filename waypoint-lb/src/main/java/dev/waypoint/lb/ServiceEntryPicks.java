package dev.waypoint.lb;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Endpoint picks for ServiceEntry backends: the compiled endpoints of the port plus the current
 * addresses of its DNS names; {@code resolution: NONE} goes to the original destination
 * ("resolution: NONE passes through to the original destination"). Pure apart from reading the
 * DNS cache.
 */
final class ServiceEntryPicks implements AutoCloseable {
    private final DnsEndpoints dns;

    ServiceEntryPicks(DnsEndpoints dns) {
        this.dns = dns;
    }

    /** The pick for one attempt; {@code avoid} as in {@link Upstreams#pick}. */
    UpstreamPick pick(ConfigSnapshot snapshot, RouteSelection.ServiceEntryBackend b, EndpointPicker picker,
                      RequestContext request, List<Endpoint> avoid) {
        ServiceEntrySpec se = b.entry();
        if (se.resolution() == ServiceEntrySpec.Resolution.NONE) {
            if (b.original() == null) {
                return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "ServiceEntry "
                        + se.name() + " has resolution NONE: only traffic addressed to it can pass through"));
            }
            // MESH_EXTERNAL: plaintext to where the client was going; the waypoint knows no identity to check
            return new Endpoint(b.original(), null, null);
        }
        List<Endpoint> eps = endpoints(snapshot, b);
        if (eps == null) {
            return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "ServiceEntry "
                    + se.name() + " port " + b.port().port() + ": DNS resolution pending"));
        }
        if (eps.isEmpty()) {
            return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "ServiceEntry "
                    + se.name() + " port " + b.port().port() + " has no endpoints"));
        }
        int[] weights = ServiceEntryEndpoints.of(snapshot).weights(se.name(), b.port().port());
        boolean weighted = weights != null && weights.length == eps.size(); // no DNS addresses added
        Endpoint e = weighted ? weighted(eps, weights) : picker.pick(eps, request);
        for (int i = 0; avoid != null && i < 5 && eps.size() > 1 && avoid.contains(e); i++) {
            e = weighted ? weighted(eps, weights) : picker.pick(eps, request);
        }
        return e;
    }

    /**
     * Endpoint {@code i} with probability {@code weights[i] / sum}: ServiceEntry and WorkloadEntry
     * {@code weight} (Envoy's {@code load_balancing_weight}). Allocates nothing.
     */
    static Endpoint weighted(List<Endpoint> eps, int[] weights) {
        long total = 0;
        for (int w : weights) {
            total += w;
        }
        long r = java.util.concurrent.ThreadLocalRandom.current().nextLong(total);
        for (int i = 0; i < weights.length; i++) {
            r -= weights[i];
            if (r < 0) {
                return eps.get(i);
            }
        }
        return eps.get(eps.size() - 1);
    }

    /**
     * The port's endpoints now: fixed ones, then each DNS name's addresses; null when a DNS name
     * was never resolved and nothing else is known.
     */
    List<Endpoint> endpoints(ConfigSnapshot snapshot, RouteSelection.ServiceEntryBackend b) {
        ServiceEntryEndpoints table = ServiceEntryEndpoints.of(snapshot);
        List<Endpoint> fixed = table.fixed(b.entry().name(), b.port().port());
        List<ServiceEntryEndpoints.DnsName> names = table.dns(b.entry().name(), b.port().port());
        if (names.isEmpty()) {
            return fixed;
        }
        List<Endpoint> out = new ArrayList<>(fixed);
        boolean pending = false;
        for (ServiceEntryEndpoints.DnsName n : names) {
            List<InetAddress> addresses = dns.lookup(n.host());
            if (addresses == null) {
                pending = true;
                continue;
            }
            for (InetAddress a : addresses) {
                out.add(new Endpoint(new HostPort(a, n.port()), n.identity(), null));
            }
        }
        return out.isEmpty() && pending ? null : out;
    }

    /**
     * Completes on {@code loop} once every DNS name of the backend has a first answer (at once when
     * it has none to wait for): a TCP tunnel waits for it before its CONNECT is answered.
     */
    Future<Void> ready(ConfigSnapshot snapshot, RouteSelection.ServiceEntryBackend b, EventLoop loop) {
        List<ServiceEntryEndpoints.DnsName> names = ServiceEntryEndpoints.of(snapshot)
                .dns(b.entry().name(), b.port().port());
        if (names.isEmpty()) {
            return loop.newSucceededFuture(null);
        }
        Promise<Void> p = loop.newPromise();
        AtomicInteger left = new AtomicInteger(names.size());
        for (ServiceEntryEndpoints.DnsName n : names) {
            dns.firstAnswer(n.host()).addListener(f -> {
                if (left.decrementAndGet() == 0) {
                    loop.execute(() -> p.trySuccess(null));
                }
            });
        }
        return p;
    }

    /** Keeps the names of {@code snapshot} resolved. */
    void onSnapshot(ConfigSnapshot snapshot) {
        dns.retain(ServiceEntryEndpoints.of(snapshot).dnsHosts());
    }

    /** The DNS cache, for the config dump. */
    java.util.Map<String, List<String>> debug() {
        return dns.debug();
    }

    @Override
    public void close() {
        dns.close();
    }
}
