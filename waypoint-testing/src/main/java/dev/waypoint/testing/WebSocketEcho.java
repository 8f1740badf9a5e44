package dev.waypoint.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.util.ReferenceCountUtil;
import java.util.Queue;

/**
 * The WebSocket side of {@link EchoServer}: an HTTP/1.1 {@code GET /ws...} with
 * {@code Upgrade: websocket} is answered {@code 101} by Netty's own server handshaker, then every
 * data frame is echoed back as it came (text as text, binary as binary, fragments as fragments),
 * pings get pongs. Reads pause while the connection is unwritable (a slow client slows the
 * sender down, it is not buffered here).
 *
 * <p>Control by text message: {@code "close me"} makes the backend start the closing handshake
 * (close code 4000); {@code "pause <ms>"} stops reading for that long (not echoed); a close from the client is answered and the connection closed. Each close
 * is recorded in {@link EchoServer#requests()} as {@code "WS-CLOSE <who> <code>"}. The upgrade
 * path {@code /ws-refuse} is not upgraded: {@link EchoServer} answers it as an ordinary request.
 */
final class WebSocketEcho extends ChannelInboundHandlerAdapter {
    /** Largest frame accepted (the end-to-end tests send a few MiB in one message). */
    static final int MAX_FRAME = 64 << 20;
    private final Queue<String> requests;
    private boolean closeSent;
    /** While a {@code pause} lasts: its end ({@link System#nanoTime}); else 0. */
    private long pausedUntil;

    private WebSocketEcho(Queue<String> requests) {
        this.requests = requests;
    }

    /** Whether {@code req} is an upgrade this echo accepts. */
    static boolean accepts(HttpRequest req, String path) {
        return path.startsWith("/ws") && !path.startsWith("/ws-refuse")
                && req.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
    }

    /** Answers {@code req} with 101 and puts the echo in place of {@code ctx}'s handler. Releases {@code req}. */
    static void upgrade(ChannelHandlerContext ctx, HttpRequest req, String name, Queue<String> requests) {
        FullHttpRequest full = new DefaultFullHttpRequest(req.protocolVersion(), req.method(), req.uri(),
                Unpooled.EMPTY_BUFFER, req.headers().copy(), EmptyHttpHeaders.INSTANCE);
        ReferenceCountUtil.release(req);
        String host = full.headers().get(HttpHeaderNames.HOST, "localhost");
        WebSocketServerHandshaker hs = new WebSocketServerHandshakerFactory(
                "ws://" + host + new QueryStringDecoder(full.uri()).path(), null, true, MAX_FRAME).newHandshaker(full);
        ctx.pipeline().replace(ctx.handler(), "ws-echo", new WebSocketEcho(requests));
        if (hs == null) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
        } else {
            hs.handshake(ctx.channel(), full, new DefaultHttpHeaders().set("x-echo-server", name), ctx.channel().newPromise());
        }
        full.release();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpObject) {
            ReferenceCountUtil.release(msg); // the upgrade request's end
            return;
        }
        if (msg instanceof CloseWebSocketFrame close) {
            int code = close.statusCode();
            requests.add("WS-CLOSE " + (closeSent ? "answered" : "client") + " " + code);
            if (closeSent) {
                close.release();
                ctx.close();
            } else {
                ctx.writeAndFlush(new CloseWebSocketFrame(code, close.reasonText())).addListener(ChannelFutureListener.CLOSE);
                close.release();
            }
            return;
        }
        if (msg instanceof PingWebSocketFrame ping) {
            ctx.writeAndFlush(new PongWebSocketFrame(ping.content()));
            return;
        }
        if (msg instanceof TextWebSocketFrame t && t.isFinalFragment() && t.text().startsWith("pause ")) {
            // a stalled reader: nothing is read for that long (backpressure reaches the sender)
            long ms = Long.parseLong(t.text().substring(6));
            t.release();
            pausedUntil = System.nanoTime() + ms * 1_000_000;
            ctx.channel().config().setAutoRead(false);
            ctx.executor().schedule(() -> {
                pausedUntil = 0;
                ctx.channel().config().setAutoRead(ctx.channel().isWritable());
            }, ms, java.util.concurrent.TimeUnit.MILLISECONDS);
            return;
        }
        if (msg instanceof TextWebSocketFrame t && t.isFinalFragment() && t.text().equals("close me")) {
            t.release();
            closeSent = true;
            ctx.writeAndFlush(new CloseWebSocketFrame(4000, "backend says goodbye"));
            return;
        }
        if (msg instanceof TextWebSocketFrame || msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
            WebSocketFrame f = (WebSocketFrame) msg;
            ByteBuf content = f.content();
            ctx.write(f.replace(content)); // echoed as it came; ownership moves to the write
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && pausedUntil == 0) {
            ctx.channel().config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
