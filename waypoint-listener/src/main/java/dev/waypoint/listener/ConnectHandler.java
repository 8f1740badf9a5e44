package dev.waypoint.listener;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.transport.Relay;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.timeout.IdleStateHandler;
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
 *   <li>pin the config snapshot (one generation for the whole tunnel) → 503 if none yet;</li>
 *   <li>target check: a bound Service VIP:port or Pod IP → else 400, never a tunnel;</li>
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
    record Deps(SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestPipelineInstaller requests,
                ListenerSettings settings, io.netty.channel.group.ChannelGroup tunnels) {}

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
        Object decision = decide(ctx.channel(), frame.headers(), frame.isEndStream());
        if (decision instanceof Rejection rejection) {
            reject(ctx, rejection);
            return;
        }
        TunnelContext tunnel = (TunnelContext) decision;
        if (tunnel.target().protocol() == AppProtocol.TCP) {
            // "For TCP passthrough, also connect upstream first"
            Channel stream = ctx.channel();
            deps.upstreamTcp().connect(tunnel, stream.eventLoop()).addListener(f -> {
                if (!f.isSuccess()) {
                    reject(ctx, RejectedException.of(f.cause(), Rejection.Reason.UPSTREAM_REFUSED));
                    return;
                }
                Channel upstream = (Channel) f.getNow();
                if (!stream.isActive()) {
                    upstream.close();
                    return;
                }
                accept(ctx);
                ((TunnelLifecycle) ctx.pipeline().get("lifecycle")).protocol(InnerProtocol.TCP);
                // out of the way before the relay's first read, which delivers the frames that
                // queued in the stream meanwhile (this handler would drop them); the frames held
                // here are older and go first
                Relay.start(stream, upstream, () -> replayEarly(ctx));
            });
        } else {
            accept(ctx);
            ctx.pipeline().addLast("sniff", new ProtocolSniffer(tunnel, deps));
            replayEarly(ctx);
            ctx.channel().read();
        }
    }

    /** The pure part: the headers and the pinned snapshot to a TunnelContext, or a Rejection. */
    private Object decide(Channel stream, Http2Headers h, boolean endStream) {
        CharSequence method = h.method();
        if (method == null || !HttpMethod.CONNECT.asciiName().contentEquals(method)) {
            return new Rejection(Rejection.Reason.NOT_CONNECT, "method: " + method + " (expected: CONNECT)");
        }
        if (h.path() != null || h.scheme() != null || h.contains(Http2Headers.PseudoHeaderName.PROTOCOL.value())) {
            return new Rejection(Rejection.Reason.NOT_CONNECT,
                    "CONNECT with :path, :scheme or :protocol (expected: classic CONNECT, RFC 9113 §8.5)");
        }
        if (endStream) {
            return new Rejection(Rejection.Reason.NOT_CONNECT, "CONNECT with END_STREAM opens nothing");
        }
        CharSequence authority = h.authority();
        if (authority == null) {
            return new Rejection(Rejection.Reason.BAD_AUTHORITY, "no :authority (expected: ip:port)");
        }
        ConfigSnapshot snapshot = deps.snapshots().current();
        if (snapshot == null) {
            return new Rejection(Rejection.Reason.NOT_READY, "no configuration loaded yet");
        }
        Object resolved = TargetResolver.resolve(authority, snapshot.part(TargetTable.PART));
        if (resolved instanceof Rejection r) {
            return r;
        }
        Channel parent = stream.parent();
        InetSocketAddress peerAddress = parent == null ? null : (InetSocketAddress) parent.remoteAddress();
        return new TunnelContext(snapshot, (Target) resolved, PeerIdentities.fromChannel(stream).orElse(null),
                peerAddress, string(h.get("forwarded")), string(h.get("baggage")), string(h.get("traceparent")));
    }

    private static String string(CharSequence s) {
        return s == null ? null : s.toString();
    }

    private void accept(ChannelHandlerContext ctx) {
        done = true;
        Http2Headers ok = new DefaultHttp2Headers().status("200");
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(ok, false));
        long idle = deps.settings().tunnelIdleTimeout().toMillis();
        ctx.pipeline().addBefore(ctx.name(), "tunnel", new TunnelFrameAdapter());
        ctx.pipeline().addBefore(ctx.name(), "idle", new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
        ctx.pipeline().addBefore(ctx.name(), "lifecycle", new TunnelLifecycle());
        deps.tunnels().add(ctx.channel()); // removed again when it closes
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
        Http2Headers headers = new DefaultHttp2Headers()
                .status(Integer.toString(rejection.reason().status()))
                .set("content-type", "text/plain; charset=utf-8")
                .set("x-waypoint-reason", rejection.reason().code());
        ctx.write(new DefaultHttp2HeadersFrame(headers, false));
        ctx.writeAndFlush(new DefaultHttp2DataFrame(ByteBufUtil.writeUtf8(ctx.alloc(), rejection.body()), true))
                .addListener(ChannelFutureListener.CLOSE);
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
        log.warn("CONNECT stream failed", cause);
        ctx.close();
    }
}
