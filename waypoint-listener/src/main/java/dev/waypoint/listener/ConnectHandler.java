package dev.waypoint.listener;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TargetResolution;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.request.TunnelObserver;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.transport.HandlerNames;
import dev.waypoint.transport.IdleTimeout;
import dev.waypoint.transport.Relay;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * First and only handler of a new HBONE stream: serves the {@code CONNECT} in phases, finishing
 * everything that can fail before answering 200 (ztunnel {@code serve_connect}):
 * <ol>
 *   <li>method and pseudo-headers: classic CONNECT only (no {@code :path}, {@code :scheme},
 *       {@code :protocol}) → else 400;</li>
 *   <li>{@code :authority} parses as {@code ip:port} → else 400;</li>
 *   <li>the config snapshot current now → 503 if none yet (it decides the CONNECT and, for TCP,
 *       the endpoint; HTTP requests inside pin their own, one per request);</li>
 *   <li>target check: a bound Service VIP:port or Pod IP → else 400, never a tunnel; a
 *       ServiceEntry address only for callers (by the namespace of their SPIFFE ID) it is
 *       exported to ({@code exportTo}) → else 400;</li>
 *   <li>for a port declared TCP, the L4 AuthorizationPolicy check ({@link TunnelAuthorizer}) → 401
 *       on deny, as ztunnel answers; HTTP ports are checked per request inside the tunnel;</li>
 *   <li>for a port declared TCP, connect the upstream first → 502/503/504 on failure.</li>
 * </ol>
 * Then it answers 200 and replaces itself with the tunnel adapter and either the relay (TCP) or
 * the protocol sniffer (HTTP and undeclared ports).
 *
 * <h2>Reference counting</h2>
 * Frames read before the decision are held (the stream stops reading at once, so at most one read
 * burst) and replayed into the new pipeline before it reads anything else, or released on
 * rejection; later frames wait in the stream until the new pipeline reads them.
 *
 * <h2>Threading</h2>
 * Stream channel's event loop only.
 */
final class ConnectHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectHandler.class);

    /** What a CONNECT needs from the rest of the server. */
    record Deps(SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain chain,
                ListenerSettings settings, io.netty.channel.group.ChannelGroup tunnels, TunnelAuthorizer authorizer,
                TunnelObserver observer) {
        /** Without a TCP tunnel observer. */
        Deps(SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain chain, ListenerSettings settings,
             io.netty.channel.group.ChannelGroup tunnels, TunnelAuthorizer authorizer) {
            this(snapshots, upstreamTcp, chain, settings, tunnels, authorizer, TunnelObserver.NONE);
        }

        /** Without L4 policy. */
        Deps(SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain chain, ListenerSettings settings,
             io.netty.channel.group.ChannelGroup tunnels) {
            this(snapshots, upstreamTcp, chain, settings, tunnels, TunnelAuthorizer.ALLOW_ALL);
        }
    }

    /** The pure part's answer: open the tunnel, or refuse it. */
    sealed interface ConnectDecision {}

    /** Accept: the tunnel's facts and the snapshot that decided them. */
    record Accept(TunnelContext tunnel, ConfigSnapshot snapshot) implements ConnectDecision {}

    /**
     * Refuse with a status, before any tunnel exists.
     *
     * @param tcpTunnel the TCP tunnel an L4 policy denied (telemetry reports it), else null
     */
    record Refuse(Rejection rejection, TunnelContext tcpTunnel) implements ConnectDecision {
        Refuse(Rejection rejection) {
            this(rejection, null);
        }
    }

    private final Deps deps;
    private boolean headersSeen;
    private boolean done;
    private final List<Object> early = new ArrayList<>(2);

    ConnectHandler(Deps deps) {
        this.deps = deps;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (headersSeen) {
            if (done) {
                ReferenceCountUtil.release(msg);
            } else {
                early.add(msg);
            }
            return;
        }
        if (!(msg instanceof Http2HeadersFrame frame)) {
            ReferenceCountUtil.release(msg);
            reject(ctx, new Rejection(Rejection.Reason.NOT_CONNECT, "stream did not start with HEADERS"));
            return;
        }
        headersSeen = true;
        // stop reading: nothing more is consumed (and no window is returned) until we decide
        ctx.channel().config().setOption(ChannelOption.AUTO_READ, false);
        ConnectDecision decision = decide(ctx.channel(), frame.headers(), frame.isEndStream());
        if (decision instanceof Refuse refuse) {
            if (refuse.tcpTunnel() != null) {
                new TcpTunnelOutcome(deps.observer(), refuse.tcpTunnel()).refused(refuse.rejection());
            }
            reject(ctx, refuse.rejection());
            return;
        }
        Accept accept = (Accept) decision;
        TunnelContext tunnel = accept.tunnel();
        if (tunnel.target().protocol() == AppProtocol.TCP && deps.upstreamTcp().routesBySni(accept.snapshot(), tunnel)) {
            // TLSRoute: the route depends on the ClientHello, which the client sends only once the
            // tunnel is open; the L4 checks ran already, the upstream is connected after the hello
            accept(ctx, tunnel).protocol(InnerProtocol.TCP);
            ctx.pipeline().addLast(HandlerNames.SNIFF, new SniPassthroughHandler(accept.snapshot(), tunnel,
                    deps.upstreamTcp(), SniPassthroughHandler.CLIENT_HELLO_TIMEOUT_MILLIS));
            replayEarly(ctx);
            ctx.channel().read();
            return;
        }
        if (tunnel.target().protocol() == AppProtocol.TCP) {
            // "For TCP passthrough, also connect upstream first"
            Channel stream = ctx.channel();
            TcpTunnelOutcome outcome = new TcpTunnelOutcome(deps.observer(), tunnel);
            deps.upstreamTcp().connect(accept.snapshot(), tunnel, stream.eventLoop(), outcome.outcome()).addListener(f -> {
                if (!f.isSuccess()) {
                    Rejection rejection = RejectedException.of(f.cause(), Rejection.Reason.UPSTREAM_REFUSED);
                    outcome.refused(rejection);
                    reject(ctx, rejection);
                    return;
                }
                Channel upstream = (Channel) f.getNow();
                if (!stream.isActive()) {
                    outcome.refused("DC", "downstream_remote_disconnect");
                    upstream.close();
                    return;
                }
                accept(ctx, tunnel).protocol(InnerProtocol.TCP);
                outcome.relaying(stream);
                // out of the way before the relay's first read, which delivers the frames that
                // queued in the stream meanwhile (this handler would drop them); the frames held
                // here are older and go first
                TcpOutcome o = outcome.outcome();
                Relay.start(stream, upstream, o::addReceived, o::addSent, () -> replayEarly(ctx));
            });
        } else {
            accept(ctx, tunnel);
            ctx.pipeline().addLast(HandlerNames.SNIFF, new ProtocolSniffer(tunnel, deps));
            replayEarly(ctx);
            ctx.channel().read();
        }
    }

    /** The pure part: the headers and the current snapshot to an accepted tunnel, or a refusal. */
    private ConnectDecision decide(Channel stream, Http2Headers h, boolean endStream) {
        CharSequence method = h.method();
        if (method == null || !HttpMethod.CONNECT.asciiName().contentEquals(method)) {
            return refuse(Rejection.Reason.NOT_CONNECT, "method: " + method + " (expected: CONNECT)");
        }
        if (h.path() != null || h.scheme() != null || h.contains(Http2Headers.PseudoHeaderName.PROTOCOL.value())) {
            return refuse(Rejection.Reason.NOT_CONNECT,
                    "CONNECT with :path, :scheme or :protocol (expected: classic CONNECT, RFC 9113 §8.5)");
        }
        if (endStream) {
            return refuse(Rejection.Reason.NOT_CONNECT, "CONNECT with END_STREAM opens nothing");
        }
        CharSequence authority = h.authority();
        if (authority == null) {
            return refuse(Rejection.Reason.BAD_AUTHORITY, "no :authority (expected: ip:port)");
        }
        ConfigSnapshot snapshot = deps.snapshots().current();
        if (snapshot == null) {
            return refuse(Rejection.Reason.NOT_READY, "no configuration loaded yet");
        }
        TargetResolution resolved = TargetResolver.resolve(authority, snapshot.part(TargetTable.PART));
        if (resolved instanceof Rejection r) {
            return new Refuse(r);
        }
        Channel parent = stream.parent();
        InetSocketAddress peerAddress = parent == null ? null : (InetSocketAddress) parent.remoteAddress();
        String forwarded = string(h.get("forwarded"));
        InetSocketAddress source = TunnelContext.parseForwardedFor(forwarded);
        TunnelContext tunnel = new TunnelContext((Target) resolved, PeerIdentities.fromChannel(stream).orElse(null),
                peerAddress, source != null ? source : peerAddress, forwarded, string(h.get("baggage")),
                string(h.get("traceparent")));
        if (tunnel.target() instanceof Target.ServiceEntryTarget se && !se.entry().exportedTo(
                tunnel.peer() == null ? null : tunnel.peer().namespace())) {
            // exportTo: a caller the entry is not exported to does not see it, so it is not this waypoint's target
            return refuse(Rejection.Reason.NOT_BOUND, authority + " is an address of ServiceEntry " + se.entry().name()
                    + ", which is not exported to " + (tunnel.peer() == null ? "a caller without a mesh identity"
                    : "namespace " + tunnel.peer().namespace()) + " (exportTo " + se.entry().exportTo() + ")");
        }
        if (tunnel.target().protocol() == AppProtocol.TCP) {
            // "run any L4 checks before sending 200": a TCP tunnel is one connection, decided once
            Rejection denied = deps.authorizer().authorize(snapshot, tunnel);
            if (denied != null) {
                return new Refuse(denied, tunnel);
            }
        }
        return new Accept(tunnel, snapshot);
    }

    private static Refuse refuse(Rejection.Reason reason, String message) {
        return new Refuse(new Rejection(reason, message));
    }

    private static String string(CharSequence s) {
        return s == null ? null : s.toString();
    }

    private TunnelLifecycle accept(ChannelHandlerContext ctx, TunnelContext tunnel) {
        done = true;
        Http2Headers ok = new DefaultHttp2Headers().status("200");
        String baggage = deps.observer().connectBaggage();
        if (baggage != null) {
            ok.set("baggage", baggage); // the waypoint as the source ztunnel's telemetry peer
        }
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(ok, false));
        long idle = deps.settings().tunnelIdleTimeout().toMillis();
        TunnelLifecycle lifecycle = new TunnelLifecycle(tunnel, deps.authorizer());
        ctx.pipeline().addBefore(ctx.name(), HandlerNames.TUNNEL, new TunnelFrameAdapter());
        ctx.pipeline().addBefore(ctx.name(), HandlerNames.IDLE, new IdleTimeout(idle, TimeUnit.MILLISECONDS));
        ctx.pipeline().addBefore(ctx.name(), HandlerNames.LIFECYCLE, lifecycle);
        deps.tunnels().add(ctx.channel()); // removed again when it closes; re-checked on every new generation
        return lifecycle;
    }

    private void replayEarly(ChannelHandlerContext ctx) {
        // frames read before the answer go through the new pipeline, in order
        List<Object> frames = new ArrayList<>(early);
        early.clear();
        io.netty.channel.ChannelPipeline pipeline = ctx.pipeline();
        pipeline.remove(this);
        for (Object f : frames) {
            pipeline.fireChannelRead(f); // from the head: through the tunnel adapter
        }
        if (!frames.isEmpty()) {
            pipeline.fireChannelReadComplete();
        }
    }

    private void reject(ChannelHandlerContext ctx, Rejection rejection) {
        done = true;
        for (Object f : early) {
            ReferenceCountUtil.release(f);
        }
        early.clear();
        log.info("CONNECT refused from {}: {}", ctx.channel().parent() == null ? "?" : ctx.channel().parent().remoteAddress(),
                rejection);
        ctx.write(LocalReplies.connectHeaders(rejection));
        ctx.writeAndFlush(LocalReplies.connectBody(rejection, ctx.alloc())).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (Object f : early) {
            ReferenceCountUtil.release(f);
        }
        early.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a stream error the client caused (RFC 9113 §5.4.2) is its fault: one DEBUG line, not a WARN per stream
        dev.waypoint.transport.PeerFaults.log(log, "CONNECT stream failed", cause);
        ctx.close();
    }
}
