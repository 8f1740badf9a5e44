package dev.waypoint.lb;

import dev.waypoint.lb.hbone.HboneKey;
import dev.waypoint.lb.hbone.HbonePool;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.transport.UpstreamStage;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The upstream side of the data path: endpoint pick, then an outbound HBONE stream (mesh
 * endpoints) or a plaintext socket (the rest), for TCP tunnels and for HTTP requests. The
 * module's public entry point.
 *
 * <p>Decide, then do: {@link #pick} is the pure decision (backend → endpoint or rejection);
 * {@link #connect} carries it out.
 */
public final class Upstreams {
    private final UpstreamSettings settings;
    private final HbonePool hbone;
    private final EndpointPicker picker;
    private final HttpUpstreamPool http;
    private final EndpointStates states = new EndpointStates();
    private final boolean attemptCountHeader;
    private final ServiceEntryPicks entries;

    /**
     * Without {@code x-envoy-attempt-count} on upstream requests, as Istio configures its waypoints;
     * ServiceEntry DNS names resolved with the system's DNS servers.
     */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker) {
        this(settings, hbone, picker, List.of(), false);
    }

    /**
     * @param dnsServers the DNS servers for ServiceEntries with {@code resolution: DNS}, in order;
     *        empty for the system's ({@code /etc/resolv.conf})
     */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker, List<InetSocketAddress> dnsServers) {
        this(settings, hbone, picker, dnsServers, false);
    }

    /**
     * @param dnsServers the DNS servers for ServiceEntries with {@code resolution: DNS}, in order;
     *        empty for the system's ({@code /etc/resolv.conf})
     * @param attemptCountHeader send {@code x-envoy-attempt-count} (1 on the first try, 2 on the
     *        first retry, ...) to the upstream, replacing a client's, as Envoy's virtual host option
     *        {@code include_request_attempt_count} does. Istio sets that option on sidecar outbound
     *        virtual hosts only; a waypoint's virtual hosts ({@code listener_waypoint.go},
     *        {@code buildSidecarInboundHTTPRouteConfig}) do not, so a waypoint sends none.
     */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker, List<InetSocketAddress> dnsServers,
                     boolean attemptCountHeader) {
        this.entries = new ServiceEntryPicks(new DnsEndpoints(List.copyOf(dnsServers), System::nanoTime));
        this.settings = Objects.requireNonNull(settings, "settings");
        this.hbone = Objects.requireNonNull(hbone, "hbone");
        this.picker = Objects.requireNonNull(picker, "picker");
        this.http = new HttpUpstreamPool(this, settings.httpIdleTimeout());
        this.attemptCountHeader = attemptCountHeader;
    }

    /** Whether upstream requests carry {@code x-envoy-attempt-count}. */
    boolean attemptCountHeader() {
        return attemptCountHeader;
    }

    /**
     * The backend of a TCP tunnel: the Service itself, or the Pod (TCP has no routes yet). HTTP
     * requests take the backend the {@code route} stage decided.
     */
    public static RouteSelection.Backend defaultBackend(Target target) {
        if (target instanceof Target.ServiceTarget s) {
            return new RouteSelection.ServiceBackend(s.service(), s.port());
        }
        if (target instanceof Target.ServiceEntryTarget se) {
            return new RouteSelection.ServiceEntryBackend(se.entry(), se.port(), se.authority());
        }
        Target.WorkloadTarget w = (Target.WorkloadTarget) target;
        return new RouteSelection.PodBackend(w.pod(), w.authority().port());
    }

    /**
     * Chooses an endpoint for {@code backend} from {@code snapshot}: an {@link Endpoint}, or
     * {@link UpstreamPick.Unavailable} (503 when the Service has no ready endpoint). With
     * {@code avoid} (endpoints already tried for this request), another endpoint is preferred
     * when the Service has one (Envoy's {@code previous_hosts} retry predicate, which Istio sets).
     *
     * @param request the request (for hashing pickers), or null for a TCP tunnel
     */
    public UpstreamPick pick(ConfigSnapshot snapshot, RouteSelection.Backend backend, RequestContext request,
                             List<Endpoint> avoid) {
        EndpointTable table = snapshot.part(EndpointTable.PART);
        if (backend instanceof RouteSelection.ServiceBackend s) {
            List<Endpoint> eps = table.endpoints(s.service().name(), s.port().port());
            if (eps.isEmpty()) {
                return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "service "
                        + s.service().name() + " port " + s.port().port() + " has no ready endpoints"));
            }
            Endpoint e = picker.pick(eps, request);
            // "host_selection_retry_max_attempts: 5" with previous_hosts, as Istio configures retries
            for (int i = 0; avoid != null && i < 5 && eps.size() > 1 && avoid.contains(e); i++) {
                e = picker.pick(eps, request);
            }
            return e;
        }
        if (backend instanceof RouteSelection.ServiceEntryBackend se) {
            return entries.pick(snapshot, se, picker, request, avoid);
        }
        RouteSelection.PodBackend p = (RouteSelection.PodBackend) backend;
        if (p.pod().ip() == null) {
            return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM,
                    "pod " + p.pod().name() + " has no IP"));
        }
        boolean mesh = table.inMesh(p.pod().name());
        return new Endpoint(new HostPort(p.pod().ip(), p.port()),
                mesh ? p.pod().identity(snapshot.resources().trustDomain()) : null, p.pod());
    }

    /** TCP tunnel upstream: default backend, pick, connect (see the listener's {@code UpstreamTcp}). */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop) {
        return connectTcp(snapshot, tunnel, defaultBackend(tunnel.target()), loop);
    }

    /**
     * TCP tunnel upstream to {@code backend} (a TCPRoute's or TLSRoute's choice, or the default):
     * pick, connect. A ServiceEntry backend whose DNS names were never resolved waits for the
     * first answer (the resolver runs on its own loop; this loop is not blocked).
     */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, RouteSelection.Backend backend,
                                      EventLoop loop) {
        if (backend instanceof RouteSelection.ServiceEntryBackend se && entries.endpoints(snapshot, se) == null) {
            Promise<Channel> out = loop.newPromise();
            entries.ready(snapshot, se, loop).addListener(f -> connectPicked(snapshot, tunnel, backend, loop)
                    .addListener(g -> {
                        if (g.isSuccess()) {
                            out.trySuccess((Channel) g.getNow());
                        } else {
                            out.tryFailure(g.cause());
                        }
                    }));
            return out;
        }
        return connectPicked(snapshot, tunnel, backend, loop);
    }

    private Future<Channel> connectPicked(ConfigSnapshot snapshot, TunnelContext tunnel, RouteSelection.Backend backend,
                                          EventLoop loop) {
        UpstreamPick pick = pick(snapshot, backend, null, null);
        if (pick instanceof UpstreamPick.Unavailable u) {
            return loop.newFailedFuture(new RejectedException(u.rejection()));
        }
        return connect((Endpoint) pick, tunnel, loop);
    }

    /**
     * A byte channel to {@code endpoint} on {@code loop}, {@code AUTO_READ} off: an answered HBONE
     * CONNECT stream for mesh endpoints, a plaintext socket otherwise.
     */
    public Future<Channel> connect(Endpoint endpoint, TunnelContext tunnel, EventLoop loop) {
        if (endpoint.inMesh()) {
            HostPort ztunnel = new HostPort(endpoint.address().address(), settings.hbonePort());
            return hbone.connect(loop, new HboneKey(ztunnel, endpoint.identity()), endpoint.address().authority(),
                    connectHeaders(tunnel));
        }
        Promise<Channel> result = loop.newPromise();
        long timeout = settings.connectTimeout().toMillis();
        new Bootstrap()
                .group(loop)
                .channel(EventLoops.clientChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout))
                .handler(new ChannelInboundHandlerAdapter())
                .connect(new InetSocketAddress(endpoint.address().address(), endpoint.address().port()))
                .addListener(f -> {
                    if (f.isSuccess()) {
                        Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
                        ch.pipeline().remove(ChannelInboundHandlerAdapter.class);
                        result.setSuccess(ch);
                    } else {
                        Rejection.Reason reason = f.cause() instanceof ConnectTimeoutException
                                ? Rejection.Reason.CONNECT_TIMEOUT : Rejection.Reason.UPSTREAM_REFUSED;
                        result.setFailure(new RejectedException(new Rejection(reason,
                                endpoint.address() + ": " + f.cause().getMessage())));
                    }
                });
        return result;
    }

    /**
     * The {@code upstream} stage: forwards each request to an endpoint of its route's backend
     * (attempts, retries, timeouts: {@link UpstreamRequest}) and streams the response back.
     */
    public UpstreamStage httpStage() {
        return (request, head, h2Downstream, loop, sink) -> {
            UpstreamRequest call = new UpstreamRequest(this, http, request, head, h2Downstream, loop, sink);
            call.start();
            return call;
        };
    }

    /** Per-endpoint counters (in flight, failures) that pickers and outlier detection read. */
    public EndpointStates states() {
        return states;
    }

    /**
     * A new generation: pooled upstream connections to addresses that are gone are closed (idle
     * ones at once; HTTP/2 ones once their streams end), and their endpoint state forgotten.
     * Call from any thread.
     */
    public void onSnapshot(ConfigSnapshot snapshot) {
        EndpointTable table = snapshot.part(EndpointTable.PART);
        Set<InetAddress> live = new HashSet<>(table.addresses().size() * 2);
        table.addresses().forEach(a -> live.add(a.address()));
        snapshot.resources().pods().forEach(p -> {
            if (p.ip() != null) {
                live.add(p.ip());
            }
        });
        ServiceEntryEndpoints.of(snapshot).allFixed().forEach(e -> live.add(e.address().address()));
        http.prune(live);
        states.retain(table.addresses());
        entries.onSnapshot(snapshot);
    }

    /** ServiceEntry DNS names and their current addresses, for the config dump. */
    public java.util.Map<String, List<String>> dnsDebug() {
        return entries.debug();
    }

    /** Stops the DNS resolver of ServiceEntries. */
    public void closeDns() {
        entries.close();
    }

    /**
     * Headers of the outbound CONNECT, as ztunnel sends them: {@code forwarded} with the original
     * client, the source's {@code baggage}, and a {@code traceparent} continuing the inbound trace.
     */
    static Http2Headers connectHeaders(TunnelContext tunnel) {
        Http2Headers h = new DefaultHttp2Headers();
        String forwarded = tunnel.forwarded();
        if (forwarded == null && tunnel.peerAddress() != null && tunnel.peerAddress().getPort() > 0) {
            forwarded = "for=\"" + new HostPort(tunnel.peerAddress().getAddress(), tunnel.peerAddress().getPort()) + "\"";
        }
        if (forwarded != null) {
            h.set("forwarded", forwarded);
        }
        if (tunnel.baggage() != null) {
            h.set("baggage", tunnel.baggage());
        }
        h.set("traceparent", traceparent(tunnel.traceparent()));
        return h;
    }

    /** {@code 00-<trace id>-<new span id>-<flags>}: same trace as the inbound one, or a new trace. */
    static String traceparent(String inbound) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        String span = String.format("%016x", r.nextLong() | 1L);
        if (inbound != null && inbound.length() == 55 && inbound.startsWith("00-") && inbound.charAt(35) == '-') {
            return "00-" + inbound.substring(3, 35) + "-" + span + inbound.substring(52);
        }
        return "00-" + String.format("%016x%016x", r.nextLong(), r.nextLong() | 1L) + "-" + span + "-00";
    }
}
