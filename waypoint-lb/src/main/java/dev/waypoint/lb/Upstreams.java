package dev.waypoint.lb;

import dev.waypoint.lb.hbone.HboneKey;
import dev.waypoint.lb.hbone.HbonePool;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.transport.UpstreamStage;
import java.net.InetAddress;
import java.util.ArrayList;
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
    /** The algorithm of Service ports whose DestinationRule names none (or that have none). */
    private final Balancer defaultBalancer;
    private final HttpUpstreamPool http;
    private final EndpointStates states;
    private final boolean attemptCountHeader;
    private final ServiceEntryPicks entries;
    /** How ServiceEntry endpoints are picked (they have no DestinationRule here yet). */
    private final EndpointPicker entryPicker;

    /**
     * Upstreams with Istio's default load balancing, {@code LEAST_REQUEST}, where no
     * DestinationRule says otherwise; ServiceEntry DNS names resolved with the system's DNS servers.
     */
    public Upstreams(UpstreamSettings settings, HbonePool hbone) {
        this(settings, hbone, null, new EndpointStates(), List.of(), false);
    }

    /** Upstreams whose default picker is {@code picker} instead of LEAST_REQUEST (tests that need an order). */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker) {
        this(settings, hbone, Objects.requireNonNull(picker, "picker"), new EndpointStates(), List.of(), false);
    }

    /** As {@link #Upstreams(UpstreamSettings, HbonePool, EndpointPicker)} with states on an injected clock. */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker, EndpointStates states) {
        this(settings, hbone, picker, states, List.of(), false);
    }

    /**
     * @param dnsServers the DNS servers for ServiceEntries with {@code resolution: DNS}, in order;
     *        empty for the system's ({@code /etc/resolv.conf})
     */
    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker, List<InetSocketAddress> dnsServers) {
        this(settings, hbone, picker, new EndpointStates(), dnsServers, false);
    }

    /**
     * @param picker the default picker, or null for LEAST_REQUEST
     * @param dnsServers the DNS servers for ServiceEntries with {@code resolution: DNS}, in order;
     *        empty for the system's ({@code /etc/resolv.conf})
     * @param attemptCountHeader send {@code x-envoy-attempt-count} (1 on the first try, 2 on the
     *        first retry, ...) to the upstream, replacing a client's, as Envoy's virtual host option
     *        {@code include_request_attempt_count} does. Istio sets that option on sidecar outbound
     *        virtual hosts only; a waypoint's virtual hosts ({@code listener_waypoint.go},
     *        {@code buildSidecarInboundHTTPRouteConfig}) do not, so a waypoint sends none.
     */
    /** Connection options of a Service port without a DestinationRule connectionPool. */
    private final ConnectionOptions defaultOptions;

    public Upstreams(UpstreamSettings settings, HbonePool hbone, EndpointPicker picker, EndpointStates states,
                     List<InetSocketAddress> dnsServers, boolean attemptCountHeader) {
        this.entries = new ServiceEntryPicks(new DnsEndpoints(List.copyOf(dnsServers), System::nanoTime));
        this.entryPicker = picker != null ? picker : EndpointPickers.roundRobin();
        this.settings = Objects.requireNonNull(settings, "settings");
        this.hbone = Objects.requireNonNull(hbone, "hbone");
        this.defaultBalancer = picker == null ? Balancers.leastRequest(null) : Balancers.of(picker);
        this.states = Objects.requireNonNull(states, "states");
        this.defaultOptions = ConnectionOptions.defaults(settings);
        this.http = new HttpUpstreamPool(this, defaultOptions);
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
     * {@link UpstreamPick.Unavailable} (503 when the Service has no ready endpoint, or every one
     * is ejected). With {@code avoid} (endpoints already tried for this request), another endpoint
     * is preferred when the Service has one (Envoy's {@code previous_hosts} retry predicate, which
     * Istio sets). The Service port's DestinationRule chooses the algorithm and outlier detection
     * ({@link TrafficPolicyCompiler}); ejected endpoints are not picked unless fewer than
     * {@code minHealthPercent} are healthy (then all are, as Envoy's panic mode).
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
            LbPolicy policy = table.policy(s.service().name(), s.port().port());
            return balanced(eps, policy, request, avoid, backend);
        }
        if (backend instanceof RouteSelection.ServiceEntryBackend se) {
            LbPolicy policy = ServiceEntryEndpoints.of(snapshot).policy(se.entry().name(), se.port().port());
            if (policy != null) {
                // a DestinationRule for the entry's host: the Service path's balancing and outlier detection
                List<Endpoint> eps = entries.endpoints(snapshot, se);
                if (eps != null && !eps.isEmpty()) {
                    return balanced(eps, policy, request, avoid, backend);
                }
            }
            return entries.pick(snapshot, se, entryPicker, request, avoid);
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

    /**
     * One pick among {@code eps} under {@code policy} (may be null): ejections, {@code avoid}, the
     * balancer. {@code backend} names the port in a refusal; the text is built only then (it was
     * built for every pick: ~100 B per request).
     */
    private UpstreamPick balanced(List<Endpoint> eps, LbPolicy policy, RequestContext request, List<Endpoint> avoid,
                                  RouteSelection.Backend backend) {
        List<Endpoint> usable = eps;
        if (policy != null && policy.outlier() != null && states.anyEjected()) {
            usable = healthy(eps, policy.outlier().minHealthPercent());
            if (usable.isEmpty()) {
                return new UpstreamPick.Unavailable(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM,
                        describe(backend) + ": every endpoint is ejected by outlier detection"));
            }
        }
        if (avoid != null && !avoid.isEmpty() && usable.size() > 1) {
            // previous_hosts, as Istio configures retries: an endpoint not tried yet, when there is one
            List<Endpoint> fresh = new ArrayList<>(usable.size());
            for (Endpoint e : usable) {
                if (!avoid.contains(e)) {
                    fresh.add(e);
                }
            }
            if (!fresh.isEmpty()) {
                usable = fresh;
            }
        }
        if (policy != null && policy.locality() != null) {
            usable = localities(policy.locality(), eps, usable);
        }
        Balancer b = policy != null && policy.balancer() != null ? policy.balancer() : defaultBalancer;
        Endpoint e = b.pick(eps, usable, request, states, ThreadLocalRandom.current());
        states.watch(states.of(e), policy == null ? null : policy.outlier(), eps);
        return e;
    }

    /** A Service or ServiceEntry backend port as refusals name it. */
    private static String describe(RouteSelection.Backend backend) {
        if (backend instanceof RouteSelection.ServiceEntryBackend se) {
            return "ServiceEntry " + se.entry().name() + " port " + se.port().port();
        }
        RouteSelection.ServiceBackend s = (RouteSelection.ServiceBackend) backend;
        return "service " + s.service().name() + " port " + s.port().port();
    }

    /**
     * {@code usable} narrowed to the priority or locality {@link LocalityPlan} draws: the plan's own
     * list when nothing was taken out of {@code eps} (no copy), else its endpoints that are usable;
     * when none is (a retry avoiding them), the first group in priority order that has one; else
     * {@code usable} itself.
     */
    private List<Endpoint> localities(LocalityLb locality, List<Endpoint> eps, List<Endpoint> usable) {
        LocalityPlan plan = locality.plan(settings.locality());
        List<Endpoint> group = plan == null ? null : plan.choose(states, ThreadLocalRandom.current());
        if (group == null) {
            return usable;
        }
        if (usable == eps) {
            return group;
        }
        List<Endpoint> out = usableOf(group, usable);
        // a retry that has tried the drawn group's endpoints goes to the next group that has one
        // (Istio sets Envoy's previous_priorities retry priority with locality load balancing)
        for (int i = 0; out.isEmpty() && i < plan.groups().size(); i++) {
            out = usableOf(plan.groups().get(i), usable);
        }
        return out.isEmpty() ? usable : out;
    }

    private static List<Endpoint> usableOf(List<Endpoint> group, List<Endpoint> usable) {
        List<Endpoint> out = new ArrayList<>(group.size());
        for (Endpoint e : group) {
            if (usable.contains(e)) {
                out.add(e);
            }
        }
        return out;
    }

    /** The DestinationRule policy of a Service or ServiceEntry backend's port, or null. */
    private static LbPolicy policyOf(ConfigSnapshot snapshot, RouteSelection.Backend backend) {
        if (backend instanceof RouteSelection.ServiceBackend s) {
            return snapshot.part(EndpointTable.PART).policy(s.service().name(), s.port().port());
        }
        if (backend instanceof RouteSelection.ServiceEntryBackend se) {
            return ServiceEntryEndpoints.of(snapshot).policy(se.entry().name(), se.port().port());
        }
        return null;
    }

    /** The DestinationRule {@code connectionPool} of {@code backend}'s port, or null. */
    static dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec poolOf(ConfigSnapshot snapshot,
                                                                              RouteSelection.Backend backend) {
        LbPolicy policy = policyOf(snapshot, backend);
        return policy == null ? null : policy.pool();
    }

    /** Where a backend port's counters live (a ServiceEntry apart from a Service of the same name). */
    private static EndpointTable.Key counterKey(RouteSelection.Backend backend) {
        if (backend instanceof RouteSelection.ServiceEntryBackend se) {
            return new EndpointTable.Key(new NamespacedName(se.entry().name().namespace(),
                    "serviceentry/" + se.entry().name().name()), se.port().port());
        }
        RouteSelection.ServiceBackend s = (RouteSelection.ServiceBackend) backend;
        return new EndpointTable.Key(s.service().name(), s.port().port());
    }

    /**
     * Admits one request to {@code backend} under its DestinationRule's {@code connectionPool}
     * limits: the counter of the Service port's requests in flight, already incremented (give it
     * back with {@code decrementAndGet} when the request ends), {@link #UNLIMITED} when no limit
     * applies, or null when the limit is reached (answer 503 UO). Counters live here, by Service
     * port, so requests in flight keep counting across config generations.
     */
    java.util.concurrent.atomic.AtomicInteger admit(ConfigSnapshot snapshot, RouteSelection.Backend backend, boolean h2) {
        LbPolicy policy = policyOf(snapshot, backend);
        int max = policy == null ? 0 : policy.maxRequests(h2);
        if (max <= 0) {
            return UNLIMITED;
        }
        java.util.concurrent.atomic.AtomicInteger n = inFlight.computeIfAbsent(
                counterKey(backend), k -> new java.util.concurrent.atomic.AtomicInteger());
        if (n.incrementAndGet() > max) {
            n.decrementAndGet();
            overflows.incrementAndGet();
            return null;
        }
        return n;
    }

    /** What {@link #admit} returns when nothing is counted. */
    static final java.util.concurrent.atomic.AtomicInteger UNLIMITED = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.Map<EndpointTable.Key, java.util.concurrent.atomic.AtomicInteger> inFlight =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong overflows = new java.util.concurrent.atomic.AtomicLong();

    /** Requests refused because a connectionPool limit was reached (the {@code waypoint_upstream_overflow_total} counter). */
    public long overflows() {
        return overflows.get();
    }

    /**
     * The endpoints outlier detection has not ejected; all of them when fewer than
     * {@code minHealthPercent} percent are healthy (Envoy's panic threshold, which Istio sets from it).
     */
    private List<Endpoint> healthy(List<Endpoint> eps, int minHealthPercent) {
        List<Endpoint> out = new ArrayList<>(eps.size());
        for (Endpoint e : eps) {
            if (!states.ejected(e)) {
                out.add(e);
            }
        }
        if (out.size() == eps.size()) {
            return eps;
        }
        if (minHealthPercent > 0 && out.size() * 100L < (long) minHealthPercent * eps.size()) {
            return eps;
        }
        return out;
    }

    /** TCP tunnel upstream: default backend, pick, connect (see the listener's {@code UpstreamTcp}). */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop) {
        return connectTcp(snapshot, tunnel, defaultBackend(tunnel.target()), loop, null);
    }

    /** As {@link #connectTcp(ConfigSnapshot, TunnelContext, EventLoop)}, recording the endpoint picked in {@code outcome} (may be null). */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop,
                                      dev.waypoint.model.request.TcpOutcome outcome) {
        return connectTcp(snapshot, tunnel, defaultBackend(tunnel.target()), loop, outcome);
    }

    /** TCP tunnel upstream to {@code backend} (a TCPRoute's or TLSRoute's choice, or the default). */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, RouteSelection.Backend backend,
                                      EventLoop loop) {
        return connectTcp(snapshot, tunnel, backend, loop, null);
    }

    /**
     * TCP tunnel upstream to {@code backend} (a TCPRoute's or TLSRoute's choice, or the default):
     * pick, connect, recording the endpoint picked in {@code outcome} (may be null). A ServiceEntry
     * backend whose DNS names were never resolved waits for the first answer (the resolver runs on
     * its own loop; this loop is not blocked).
     */
    public Future<Channel> connectTcp(ConfigSnapshot snapshot, TunnelContext tunnel, RouteSelection.Backend backend,
                                      EventLoop loop, dev.waypoint.model.request.TcpOutcome outcome) {
        if (backend instanceof RouteSelection.ServiceEntryBackend se && entries.endpoints(snapshot, se) == null) {
            Promise<Channel> out = loop.newPromise();
            entries.ready(snapshot, se, loop).addListener(f -> connectPicked(snapshot, tunnel, backend, loop, outcome)
                    .addListener(g -> {
                        if (g.isSuccess()) {
                            out.trySuccess((Channel) g.getNow());
                        } else {
                            out.tryFailure(g.cause());
                        }
                    }));
            return out;
        }
        return connectPicked(snapshot, tunnel, backend, loop, outcome);
    }

    private Future<Channel> connectPicked(ConfigSnapshot snapshot, TunnelContext tunnel, RouteSelection.Backend backend,
                                          EventLoop loop, dev.waypoint.model.request.TcpOutcome outcome) {
        UpstreamPick pick = pick(snapshot, backend, null, null);
        if (pick instanceof UpstreamPick.Unavailable u) {
            return loop.newFailedFuture(new RejectedException(u.rejection()));
        }
        Endpoint endpoint = (Endpoint) pick;
        if (outcome != null) {
            outcome.endpoint(endpoint.address().authority(), endpoint.pod(), endpoint.identity());
        }
        Future<Channel> connected = connect(endpoint, tunnel, loop, tcpOptions(snapshot, backend));
        dev.waypoint.transport.TunnelLimits limits = tunnelLimits(snapshot, backend);
        if (limits != null) {
            connected.addListener(f -> {
                if (f.isSuccess()) {
                    ((Channel) f.getNow()).attr(dev.waypoint.transport.TunnelLimits.KEY).set(limits);
                }
            });
        }
        return connected;
    }

    /**
     * A TCP tunnel's {@code tcp.idleTimeout} and {@code tcp.maxConnectionDuration} from the
     * backend's DestinationRule, or null when it writes neither (the tunnel keeps the listener's
     * idle timeout and has no maximum duration). Istio's waypoint takes them from the destination
     * Service's rule for its TCP proxy ({@code listener_waypoint.go}).
     */
    private dev.waypoint.transport.TunnelLimits tunnelLimits(ConfigSnapshot snapshot, RouteSelection.Backend backend) {
        LbPolicy policy = policyOf(snapshot, backend);
        dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec pool = policy == null ? null : policy.pool();
        if (pool == null || (pool.tcpIdleTimeout() == null && pool.maxConnectionDuration() == null)) {
            return null;
        }
        return new dev.waypoint.transport.TunnelLimits(pool.tcpIdleTimeout(), pool.maxConnectionDuration());
    }

    /**
     * A TCP tunnel's connection options: the MeshConfig defaults with the DestinationRule's
     * {@code connectionPool} (connect timeout, keepalive) over them; TLS origination stays an
     * HTTP-only feature here, as before.
     */
    private ConnectionOptions tcpOptions(ConfigSnapshot snapshot, RouteSelection.Backend backend) {
        LbPolicy policy = policyOf(snapshot, backend);
        ConnectionOptions base = meshDefaults(snapshot);
        return policy == null ? base : ConnectionOptions.of(base, policy.pool(), null);
    }

    /** The cached MeshConfig defaults, and the mesh config they were built for. */
    private record MeshDefaults(dev.waypoint.model.mesh.MeshConfigSpec mesh, ConnectionOptions options) {}

    /** Written by whichever loop first sees a new mesh config; a lost race builds an equal value again. */
    private volatile MeshDefaults meshDefaults;

    /**
     * The connection options of a port without a DestinationRule {@code connectionPool}: the
     * waypoint's defaults with the snapshot's MeshConfig {@code connectTimeout} and
     * {@code tcpKeepalive} ({@link ConnectionOptions#defaults(UpstreamSettings, dev.waypoint.model.mesh.MeshConfigSpec)}),
     * built once per mesh config (not per request).
     */
    ConnectionOptions meshDefaults(ConfigSnapshot snapshot) {
        dev.waypoint.model.mesh.MeshConfigSpec mesh = snapshot.resources().meshConfig();
        if (mesh.connectTimeout() == null && mesh.tcpKeepalive() == null) {
            return defaultOptions;
        }
        MeshDefaults d = meshDefaults;
        if (d == null || d.mesh() != mesh) {
            d = new MeshDefaults(mesh, ConnectionOptions.defaults(settings, mesh));
            meshDefaults = d;
        }
        return d.options();
    }

    /**
     * A byte channel to {@code endpoint} on {@code loop}, {@code AUTO_READ} off: an answered HBONE
     * CONNECT stream for mesh endpoints, a plaintext socket otherwise.
     */
    public Future<Channel> connect(Endpoint endpoint, TunnelContext tunnel, EventLoop loop) {
        return connect(endpoint, tunnel, loop, defaultOptions);
    }

    /**
     * The connection options of {@code backend}'s Service port: its DestinationRule's
     * {@code connectionPool} over the MeshConfig defaults over the waypoint's ({@link ConnectionOptions}).
     */
    ConnectionOptions connectionOptions(ConfigSnapshot snapshot, RouteSelection.Backend backend) {
        return connectionOptions(snapshot, backend, null);
    }

    /**
     * As {@link #connectionOptions(ConfigSnapshot, RouteSelection.Backend)} for a request to {@code host}
     * (its {@code Host} as sent upstream, or null): a rule's TLS without {@code sni} sends the host name and
     * checks it ({@link UpstreamTls#forHost}).
     */
    ConnectionOptions connectionOptions(ConfigSnapshot snapshot, RouteSelection.Backend backend, String host) {
        LbPolicy policy = policyOf(snapshot, backend);
        ConnectionOptions base = meshDefaults(snapshot);
        return policy == null ? base
                : ConnectionOptions.of(base, policy.pool(), policy.tls() == null ? null : policy.tls().forHost(host));
    }

    /**
     * Takes one of {@code backend}'s retry slots ({@code connectionPool.http.maxRetries}: retries
     * in flight to the Service port at most): the counter, already incremented (give it back when
     * the retry attempt ends), {@link #UNLIMITED} when no budget applies, or null when the budget
     * is spent (the retry is not made; counted in {@link #retryOverflows()}, Envoy's
     * {@code upstream_rq_retry_overflow}).
     */
    java.util.concurrent.atomic.AtomicInteger retrySlot(ConfigSnapshot snapshot, RouteSelection.Backend backend) {
        LbPolicy policy = policyOf(snapshot, backend);
        int max = policy == null || policy.pool() == null ? 0 : policy.pool().maxRetries();
        if (max <= 0) {
            return UNLIMITED;
        }
        java.util.concurrent.atomic.AtomicInteger n = retriesInFlight.computeIfAbsent(
                counterKey(backend), k -> new java.util.concurrent.atomic.AtomicInteger());
        if (n.incrementAndGet() > max) {
            n.decrementAndGet();
            retryOverflows.incrementAndGet();
            return null;
        }
        return n;
    }

    private final java.util.Map<EndpointTable.Key, java.util.concurrent.atomic.AtomicInteger> retriesInFlight =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong retryOverflows = new java.util.concurrent.atomic.AtomicLong();

    /** Retries not made because a {@code maxRetries} budget was spent (the {@code waypoint_upstream_retry_overflow_total} counter). */
    public long retryOverflows() {
        return retryOverflows.get();
    }

    /** As {@link #connect(Endpoint, TunnelContext, EventLoop)}, plaintext sockets opened with {@code options}. */
    Future<Channel> connect(Endpoint endpoint, TunnelContext tunnel, EventLoop loop, ConnectionOptions options) {
        UpstreamTls tls = options.tls();
        if (tls != null && tls.broken() != null) {
            // fail closed: a DestinationRule asked for TLS, never fall back to plaintext
            return loop.newFailedFuture(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                    endpoint.address() + ": DestinationRule tls " + tls.broken())));
        }
        if (endpoint.inMesh()) {
            HostPort ztunnel = new HostPort(endpoint.address().address(), settings.hbonePort());
            // per source identity, as ztunnel pools (HboneKey): a client that never reads stalls only its own
            HboneKey key = new HboneKey(ztunnel, endpoint.identity(), tunnel == null ? null : tunnel.peer());
            // MeshConfig connectTimeout: Istio's connect_originate cluster takes the mesh's
            Future<Channel> stream = options.hboneConnectTimeout() != null
                    ? hbone.connect(loop, key, endpoint.address().authority(), connectHeaders(tunnel),
                            options.hboneConnectTimeout())
                    : hbone.connect(loop, key, endpoint.address().authority(), connectHeaders(tunnel));
            if (tls == null) {
                return stream;
            }
            // a DestinationRule's SIMPLE/MUTUAL to a mesh endpoint is TLS inside the tunnel, as Istio's
            // waypoint makes it (cluster_waypoint.go buildWaypointTLSContext): the app's TLS over HBONE's
            Promise<Channel> inside = loop.newPromise();
            stream.addListener(f -> {
                if (f.isSuccess()) {
                    handshake((Channel) f.getNow(), endpoint, tls, inside, false);
                } else {
                    inside.setFailure(f.cause());
                }
            });
            return inside;
        }
        Promise<Channel> result = loop.newPromise();
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(EventLoops.clientChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true);
        options.apply(b, EventLoops.clientChannel()); // connect timeout, tcpKeepalive
        b.handler(new ChannelInboundHandlerAdapter())
                .connect(new InetSocketAddress(endpoint.address().address(), endpoint.address().port()))
                .addListener(f -> {
                    if (f.isSuccess()) {
                        Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
                        ch.pipeline().remove(ChannelInboundHandlerAdapter.class);
                        if (tls == null) {
                            result.setSuccess(ch);
                            return;
                        }
                        handshake(ch, endpoint, tls, result, true);
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
     * TLS origination (DestinationRule {@code tls}) on a connected plaintext socket, or inside an
     * answered HBONE stream: the handshake, then the SAN check of {@link UpstreamTls#verify};
     * {@code result} gets the channel only after both, so the request is sent encrypted or not at all.
     *
     * @param socket a plaintext socket (TLS first in its pipeline), else an HBONE stream (TLS after
     *        its frame adapter, which turns DATA frames into bytes)
     */
    private static void handshake(Channel ch, Endpoint endpoint, UpstreamTls tls, Promise<Channel> result, boolean socket) {
        io.netty.handler.ssl.SslHandler ssl = tls.newHandler(ch.alloc(), endpoint.address().port());
        if (socket) {
            ch.pipeline().addFirst("tls", ssl);
        } else {
            ch.pipeline().addLast("tls", ssl);
        }
        ssl.handshakeFuture().addListener(h -> {
            String bad = h.isSuccess() ? tls.verify(ssl.engine().getSession()) : null;
            if (h.isSuccess() && bad == null) {
                result.setSuccess(ch);
                return;
            }
            ch.close();
            result.setFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, endpoint.address()
                    + ": TLS (DestinationRule tls " + tls + ") failed: " + (bad != null ? bad : h.cause().getMessage()))));
        });
        ch.read(); // AUTO_READ is off: the server's first flight (SslHandler reads on while the handshake runs)
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

    /**
     * HTTP calls a stage makes itself (ext_authz) to a Service port, through the same endpoint
     * picks and pooled connections as forwarded requests; {@code loops} are the data-plane event
     * loops the calls are made on.
     */
    public dev.waypoint.model.request.ServiceCalls serviceCalls(io.netty.channel.EventLoopGroup loops) {
        return new ServiceCallClient(this, http, loops);
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
        Set<HostPort> stay = new HashSet<>(table.addresses());
        ServiceEntryEndpoints.of(snapshot).allFixed().forEach(e -> stay.add(e.address())); // ServiceEntry ejections survive too
        states.retain(stay);
        List<Endpoint> all = new ArrayList<>();
        table.allEndpoints().forEach(all::addAll);
        states.seen(all); // slow start counts from the first generation an endpoint is in
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
