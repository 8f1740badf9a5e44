package dev.waypoint.server.interop;

import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 exchange inside an HBONE tunnel opened with {@link HboneTestClient} (our own client,
 * for the tests whose foreign peer is the destination).
 */
final class InnerHttp {
    private InnerHttp() {}

    /**
     * @param connectStatus the CONNECT answer; when not 200, {@code connectBody} is its body and
     *        the rest is empty
     * @param status the inner response status (0 if none)
     */
    record Result(int connectStatus, String connectBody, int status, String head, String body) {
        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }

    /** CONNECT {@code authority} with {@code headers}, send {@code request}, read one response. */
    static Result exchange(HboneTestClient client, String authority, Map<String, String> headers, String request,
                           Duration timeout) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, headers).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (a.status() != 200) {
            return new Result(a.status(), a.body(), 0, "", "");
        }
        Channel tunnel = a.tunnel();
        CompletableFuture<Result> done = new CompletableFuture<>();
        tunnel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            final StringBuilder b = new StringBuilder();

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf buf = (ByteBuf) msg;
                try {
                    b.append(buf.toString(StandardCharsets.ISO_8859_1));
                } finally {
                    buf.release();
                }
                parse(false);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                parse(true);
                done.completeExceptionally(new AssertionError("tunnel closed before a full response: " + b));
                ctx.fireChannelInactive();
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                    parse(true);
                }
                io.netty.util.ReferenceCountUtil.release(evt);
            }

            private void parse(boolean eof) {
                int end = b.indexOf("\r\n\r\n");
                if (end < 0) {
                    return;
                }
                String head = b.substring(0, end);
                String body = b.substring(end + 4);
                int status = Integer.parseInt(head.split(" ", 3)[1]);
                String cl = null;
                for (String line : head.split("\r\n")) {
                    if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                        cl = line.substring(15).trim();
                    }
                }
                if (cl != null && body.length() >= Integer.parseInt(cl)) {
                    done.complete(new Result(200, "", status, head, body.substring(0, Integer.parseInt(cl))));
                } else if (eof) {
                    done.complete(new Result(200, "", status, head, body));
                }
            }
        });
        tunnel.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
        try {
            return done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            tunnel.close();
        }
    }

    static String get(String path, String host) {
        return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: waypoint-interop\r\n\r\n";
    }
}
