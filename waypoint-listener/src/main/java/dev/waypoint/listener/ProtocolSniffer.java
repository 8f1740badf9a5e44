package dev.waypoint.listener;

import dev.waypoint.model.ConfigSnapshot;

import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.HandlerNames;
import dev.waypoint.transport.Relay;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what runs inside an accepted tunnel from the declared port protocol and the first
 * bytes, then installs it and replays those bytes:
 * <ul>
 *   <li>the HTTP/2 connection preface → h2c (gRPC included);</li>
 *   <li>an HTTP/1.x request line → HTTP/1.1;</li>
 *   <li>otherwise TCP, relayed as is. On ports declared HTTP the HTTP/1.1 codec gets the bytes
 *       anyway (it answers 400). On ports with no declared protocol, a client whose bytes decide
 *       nothing within the sniff timeout gets a TCP relay (the bytes seen so far replayed into
 *       it) instead of a hang: one that sends nothing speaks a server-first protocol (MySQL, SMTP;
 *       istio#53033), and one that sends a few uppercase bytes without a space and then waits for
 *       an answer would otherwise never be decided either.</li>
 * </ul>
 *
 * <p>On TCP the sniffer stays in place while the upstream is connected: bytes and the client's
 * EOF ({@code END_STREAM}) that arrive meanwhile — typically in the very read that decided, as
 * data and END_STREAM often share a frame — are held and replayed into the relay, in order,
 * before it reads anything itself.
 *
 * <h2>Reference counting</h2>
 * Bytes are accumulated in one composite buffer that is handed, whole, to the chosen pipeline
 * (or released on close).
 */
final class ProtocolSniffer extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ProtocolSniffer.class);
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    /** Longest request line we wait for before calling it "not HTTP/1". */
    private static final int MAX_SNIFF = 8192;

    private final TunnelContext tunnel;
    private final ConnectHandler.Deps deps;
    private CompositeByteBuf seen;
    private ScheduledFuture<?> timeout;
    private boolean decided;
    /** TCP was decided and the upstream is being connected: what arrives now is held for the relay. */
    private boolean connecting;
    /** The client's EOF arrived while {@link #connecting}. */
    private boolean eofSeen;

    ProtocolSniffer(TunnelContext tunnel, ConnectHandler.Deps deps) {
        this.tunnel = tunnel;
        this.deps = deps;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        seen = ctx.alloc().compositeBuffer();
        if (tunnel.target().protocol() == AppProtocol.AUTO) {
            // whatever arrived so far (nothing, or the start of something that is not a request
            // line yet) goes to the TCP relay
            timeout = ctx.executor().schedule(() -> {
                if (!decided) {
                    decide(ctx, InnerProtocol.TCP);
                }
            }, deps.settings().sniffTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (seen != null) {
            seen.release();
            seen = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf) || (decided && !connecting)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        seen.addComponent(true, buf);
        if (connecting) {
            return; // for the relay, after what decided
        }
        InnerProtocol p = classify(seen, tunnel.target().protocol());
        if (p != null) {
            decide(ctx, p);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!decided) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            if (!decided) {
                // the client finished sending before we could tell: whatever it sent is opaque
                decide(ctx, tunnel.target().protocol() == AppProtocol.AUTO || tunnel.target().protocol() == AppProtocol.TCP
                        ? InnerProtocol.TCP : InnerProtocol.HTTP1);
            }
            if (connecting) {
                eofSeen = true; // the relay passes it on as the upstream's FIN, after the bytes
                return;
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * HTTP/2 preface, HTTP/1 request line, TCP, or null while undecided. Pure, for tests.
     */
    static InnerProtocol classify(ByteBuf in, AppProtocol declared) {
        int n = in.readableBytes();
        int start = in.readerIndex();
        // HTTP/2 preface, byte by byte while it still matches
        int m = Math.min(n, PREFACE.length);
        boolean prefaceSoFar = true;
        for (int i = 0; i < m; i++) {
            if (in.getByte(start + i) != PREFACE[i]) {
                prefaceSoFar = false;
                break;
            }
        }
        if (prefaceSoFar) {
            return n >= PREFACE.length ? InnerProtocol.HTTP2 : null;
        }
        boolean httpPort = declared.isHttp();
        // request line: METHOD SP target SP HTTP/1.x CRLF
        int i = 0;
        while (i < n && i < 20) {
            byte b = in.getByte(start + i);
            if (b == ' ') {
                break;
            }
            if (b < 'A' || b > 'Z') {
                return httpPort ? InnerProtocol.HTTP1 : InnerProtocol.TCP;
            }
            i++;
        }
        if (i == n) {
            return n < 20 ? null : (httpPort ? InnerProtocol.HTTP1 : InnerProtocol.TCP);
        }
        if (i == 0 || i == 20) {
            return httpPort ? InnerProtocol.HTTP1 : InnerProtocol.TCP;
        }
        int lf = in.indexOf(start + i, start + n, (byte) '\n');
        if (lf < 0) {
            return n >= MAX_SNIFF ? (httpPort ? InnerProtocol.HTTP1 : InnerProtocol.TCP) : null;
        }
        String line = in.toString(start, lf - start, StandardCharsets.US_ASCII).trim();
        return line.endsWith(" HTTP/1.1") || line.endsWith(" HTTP/1.0") || httpPort ? InnerProtocol.HTTP1
                : InnerProtocol.TCP;
    }

    private void decide(ChannelHandlerContext ctx, InnerProtocol protocol) {
        decided = true;
        Channel channel = ctx.channel();
        ChannelPipeline p = ctx.pipeline();
        log.debug("tunnel to {}: {}", tunnel.target().authority(), protocol);
        ((TunnelLifecycle) p.get(HandlerNames.LIFECYCLE)).protocol(protocol);
        if (protocol == InnerProtocol.TCP) {
            connectTcp(ctx);
            return;
        }
        ByteBuf bytes = seen;
        seen = null;
        switch (protocol) {
            case HTTP1 -> {
                p.addLast(HandlerNames.H1, new HttpServerCodec(new HttpDecoderConfig()
                        .setMaxInitialLineLength(deps.settings().maxInitialLineLength())
                        .setMaxHeaderSize(deps.settings().maxHeaderSize())
                        .setMaxChunkSize(64 << 10),
                        // ExchangeHandler bounds the pipelined requests it holds (MAX_PIPELINED) and answers
                        // them all; Netty's own bound would close the tunnel after the next response
                        Integer.MAX_VALUE));
                // every request of the tunnel, one at a time; malformed ones are answered in turn there
                p.addLast(HandlerNames.EXCHANGE, new ExchangeHandler(tunnel, deps.snapshots(), deps.chain(), false));
                p.remove(this);
                fire(p, bytes);
            }
            case HTTP2 -> {
                // inner streams whose reading is held back would outlive the tunnel unless closed with it
                dev.waypoint.transport.ChildStreams streams = new dev.waypoint.transport.ChildStreams();
                // Http2MultiplexCodec, not Http2FrameCodec + Http2MultiplexHandler: the handler decides
                // "am I a server?" from channel().parent() instanceof ServerChannel, which is false for
                // a connection nested in a tunnel stream, and then mistakes the client's stream 1 for an
                // h2c upgrade. The codec asks the HTTP/2 connection instead.
                @SuppressWarnings("deprecation")
                io.netty.handler.codec.http2.Http2MultiplexCodec codec =
                        io.netty.handler.codec.http2.Http2MultiplexCodecBuilder.forServer(
                                new ChannelInitializer<Http2StreamChannel>() {
                                    @Override
                                    protected void initChannel(Http2StreamChannel stream) {
                                        streams.track(stream);
                                        stream.pipeline().addLast(HandlerNames.H2_HTTP,
                                                new Http2StreamFrameToHttpObjectCodec(true, true));
                                        stream.pipeline().addLast(HandlerNames.EXCHANGE, new ExchangeHandler(tunnel, deps.snapshots(), deps.chain(), true));
                                    }
                                })
                        .initialSettings(Http2Settings.defaultSettings()
                                .maxConcurrentStreams(deps.settings().maxConcurrentStreams())
                                .initialWindowSize(1 << 20)
                                .maxHeaderListSize(deps.settings().maxHeaderSize()))
                        .validateHeaders(true)
                        // PRIORITY and WINDOW_UPDATE floods end this connection as they end the tunnel's
                        // (this builder's decoder cannot be decorated: its frame logger counts); the
                        // frames are logged at DEBUG under hbone.h2c.frames
                        .frameLogger(dev.waypoint.transport.ControlFrameFloods.nestedServerLogger("hbone.h2c.frames"))
                        .build();
                // the inner connection closing (after its GOAWAY) ends the tunnel with END_STREAM, no reset
                p.addLast("h2c-finish", dev.waypoint.transport.HalfClose.FinishOnClose.INSTANCE);
                p.addLast(HandlerNames.H2C, codec);
                p.addLast(HandlerNames.STREAMS, streams);
                // the inner connection's errors end it with its own GOAWAY, then the tunnel (not a reset first)
                p.addLast("h2c-errors", dev.waypoint.transport.PeerFaults.nestedConnectionSink(log));
                p.remove(this);
                // the inner HTTP/2 connection has its own flow control: its stream windows bound
                // what is buffered, so the tunnel itself can keep reading
                channel.config().setOption(ChannelOption.AUTO_READ, true);
                fire(p, bytes);
            }
            default -> throw new IllegalStateException("not an HTTP protocol: " + protocol);
        }
    }

    /**
     * Connects the upstream, then hands over to a relay: what this handler holds (the bytes seen,
     * those that arrived while connecting, the client's EOF) goes into it first, in order.
     */
    private void connectTcp(ChannelHandlerContext ctx) {
        connecting = true;
        Channel channel = ctx.channel();
        ChannelPipeline p = ctx.pipeline();
        ConfigSnapshot snapshot = deps.snapshots().current();
        TcpTunnelOutcome outcome = new TcpTunnelOutcome(deps.observer(), tunnel);
        // an undeclared port turned out to carry TCP: the L4 policy check the CONNECT could not make
        Rejection denied = deps.authorizer().authorize(snapshot, tunnel);
        if (denied != null) {
            log.info("TCP tunnel to {} denied: {}", tunnel.target().authority(), denied);
            outcome.refused(denied);
            channel.close(); // 200 was sent: a reset is all the client can get now
            return;
        }
        deps.upstreamTcp().connect(snapshot, tunnel, channel.eventLoop(), outcome.outcome()).addListener(f -> {
            if (!f.isSuccess() || !channel.isActive()) {
                if (f.isSuccess()) {
                    ((Channel) f.getNow()).close();
                    outcome.refused("DC", "downstream_remote_disconnect");
                } else {
                    outcome.refused(dev.waypoint.model.request.RejectedException.of(f.cause(),
                            Rejection.Reason.UPSTREAM_REFUSED));
                }
                log.info("TCP tunnel to {} failed: {}", tunnel.target().authority(),
                        f.cause() == null ? "client went away" : f.cause().getMessage());
                // 200 was sent: a reset is all the client can get now (what is held goes with this handler)
                channel.close();
                return;
            }
            outcome.relaying(channel);
            Relay.start(channel, (Channel) f.getNow(), outcome.outcome()::addReceived, outcome.outcome()::addSent, () -> {
                ByteBuf bytes = seen;
                seen = null;
                boolean eof = eofSeen;
                ChannelHandlerContext entry = p.context(HandlerNames.LIFECYCLE); // bytes, not frames: after the tunnel adapter
                p.remove(this);
                if (bytes.isReadable()) {
                    entry.fireChannelRead(bytes);
                } else {
                    bytes.release();
                }
                if (eof) {
                    entry.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
                }
                entry.fireChannelReadComplete();
            });
        });
    }

    private static void fire(ChannelPipeline p, ByteBuf bytes) {
        if (bytes.isReadable()) {
            // bytes, not frames: enter after the tunnel adapter (and the idle/lifecycle handlers)
            ChannelHandlerContext entry = p.context(HandlerNames.LIFECYCLE);
            entry.fireChannelRead(bytes);
            entry.fireChannelReadComplete();
        } else {
            bytes.release();
            p.channel().read();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // e.g. the client's WINDOW_UPDATE of 0 on this stream: its fault, one DEBUG line (PeerFaults)
        dev.waypoint.transport.PeerFaults.log(log, "tunnel to " + tunnel.target().authority() + ": sniffing failed", cause);
        ctx.close();
    }
}
