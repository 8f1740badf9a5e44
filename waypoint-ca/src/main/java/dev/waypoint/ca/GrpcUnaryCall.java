package dev.waypoint.ca;

import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC unary call on Netty's HTTP/2 client: a new TLS connection (ALPN {@code h2}), one stream
 * with the request headers and one length-prefixed message, the response message and the
 * {@code grpc-status} trailer, then the connection is closed. The CA is called once per certificate
 * lifetime (12 h by default), so a connection per call costs nothing and leaves no connection
 * state to manage (reconnects, GOAWAY, a rotated root), which is what istio-agent's citadel client
 * works around by rebuilding its client after a failure.
 *
 * <p>What is implemented of the gRPC-over-HTTP/2 protocol: {@code :method POST}, {@code :scheme
 * https}, {@code content-type: application/grpc}, {@code te: trailers}, {@code grpc-timeout},
 * uncompressed messages only (no {@code grpc-encoding} is offered, so a server must not compress),
 * trailers-only responses, {@code grpc-message} percent-decoding.
 *
 * <h2>Reference counting</h2>
 * Inbound frames are released by {@link StreamHandler} after their bytes are copied; the request
 * buffer is released by the write.
 *
 * <h2>Threading</h2>
 * All I/O runs on the given event loop group; the returned future completes on it. Nothing blocks.
 */
final class GrpcUnaryCall {
    /** The CA returns a few kilobytes; anything much larger is not a certificate chain. */
    static final int MAX_RESPONSE = 1 << 20;

    private GrpcUnaryCall() {}

    /**
     * Calls {@code path} on {@code host:port} with {@code message}.
     *
     * @param ssl a client context with ALPN {@code h2} and endpoint identification (host name check)
     * @param metadata extra request headers, lower-case names (gRPC metadata is case-insensitive)
     * @return the response message, or a {@link CaCallException}
     */
    static CompletableFuture<byte[]> call(EventLoopGroup group, SslContext ssl, String host, int port, String path,
            Map<String, String> metadata, byte[] message, Duration timeout) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        long timeoutMillis = Math.max(1, timeout.toMillis());
        Bootstrap b = new Bootstrap().group(group).channel(EventLoops.clientChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeoutMillis))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc(), host, port));
                        ch.pipeline().addLast("h2", Http2FrameCodecBuilder.forClient().build());
                        // the CA pushes no streams; a pushed one would be refused by the codec anyway
                        ch.pipeline().addLast("mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        // a failed handshake or a broken connection is reported through the futures
                        // above; here it is only kept from reaching the pipeline's tail as a warning
                        ch.pipeline().addLast("errors", new ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                });
        ChannelFuture connect = b.connect(host, port);
        Channel parent = connect.channel();
        ScheduledFuture<?> deadline = parent.eventLoop().schedule(() -> {
            fail(result, parent, new CaCallException("CreateCertificate to " + host + ":" + port
                    + ": no answer within " + timeoutMillis + " ms (DEADLINE_EXCEEDED)", 4, null));
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        result.whenComplete((r, e) -> {
            deadline.cancel(false);
            parent.close();
        });
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                fail(result, parent, transport("connect", host, port, f.cause()));
                return;
            }
            SslHandler tls = parent.pipeline().get(SslHandler.class);
            tls.handshakeFuture().addListener(h -> {
                if (!h.isSuccess()) {
                    fail(result, parent, transport("TLS handshake (verified against the mesh root)", host, port,
                            h.cause()));
                    return;
                }
                if (!ApplicationProtocolNames.HTTP_2.equals(tls.applicationProtocol())) {
                    fail(result, parent, new CaCallException("CreateCertificate to " + host + ":" + port
                            + ": ALPN " + tls.applicationProtocol() + " (expected: h2)", -1, null));
                    return;
                }
                openStream(parent, host, port, path, metadata, message, timeoutMillis, result);
            });
        });
        parent.closeFuture().addListener(f -> fail(result, parent, new CaCallException("CreateCertificate to "
                + host + ":" + port + ": connection closed before the response", 14, null)));
        return result;
    }

    private static void openStream(Channel parent, String host, int port, String path, Map<String, String> metadata,
            byte[] message, long timeoutMillis, CompletableFuture<byte[]> result) {
        StreamHandler handler = new StreamHandler(host + ":" + port, result);
        new Http2StreamChannelBootstrap(parent).handler(handler).open().addListener(f -> {
            if (!f.isSuccess()) {
                fail(result, parent, transport("open stream", host, port, f.cause()));
                return;
            }
            Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
            Http2Headers headers = new DefaultHttp2Headers()
                    .method("POST").scheme("https").path(path)
                    .authority((host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port)
                    .add("content-type", "application/grpc")
                    .add("te", "trailers")
                    .add("grpc-timeout", grpcTimeout(timeoutMillis))
                    .add("user-agent", "waypoint-ca/0.1");
            metadata.forEach(headers::add);
            ByteBuf body = Unpooled.buffer(5 + message.length);
            body.writeByte(0).writeInt(message.length).writeBytes(message);
            stream.write(new DefaultHttp2HeadersFrame(headers, false));
            stream.writeAndFlush(new DefaultHttp2DataFrame(body, true)).addListener(w -> {
                if (!w.isSuccess()) {
                    fail(result, parent, transport("write", host, port, w.cause()));
                }
            });
        });
    }

    /** gRPC's {@code grpc-timeout}: at most 8 digits, then a unit ({@code m} milliseconds, {@code S} seconds). */
    static String grpcTimeout(long millis) {
        return millis <= 99_999_999L ? millis + "m" : Math.min(99_999_999L, millis / 1000) + "S";
    }

    private static void fail(CompletableFuture<byte[]> result, Channel parent, CaCallException e) {
        if (result.completeExceptionally(e)) {
            parent.close();
        }
    }

    private static CaCallException transport(String what, String host, int port, Throwable cause) {
        return new CaCallException("CreateCertificate to " + host + ":" + port + ": " + what + " failed: " + cause,
                -1, cause);
    }

    /**
     * Collects the response on the stream's event loop: headers, the data, then trailers (or a
     * trailers-only answer).
     */
    private static final class StreamHandler extends ChannelInboundHandlerAdapter {
        private final String target;
        private final CompletableFuture<byte[]> result;
        // confined to the stream's event loop
        private Http2Headers responseHeaders;
        private final ByteArrayOutputStream data = new ByteArrayOutputStream();

        StreamHandler(String target, CompletableFuture<byte[]> result) {
            this.target = target;
            this.result = result;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    if (responseHeaders == null) {
                        responseHeaders = h.headers();
                        CharSequence status = h.headers().status();
                        if (status == null || !"200".contentEquals(status)) {
                            done(ctx, new CaCallException("CreateCertificate to " + target + ": HTTP status " + status
                                    + " (expected: 200)", statusFromHttp(status), null));
                            return;
                        }
                        if (h.isEndStream()) {
                            trailers(ctx, h.headers()); // trailers-only: an error without a message
                        }
                    } else {
                        trailers(ctx, h.headers());
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    ByteBuf content = d.content();
                    if (data.size() + content.readableBytes() > MAX_RESPONSE + 5) {
                        done(ctx, new CaCallException("CreateCertificate to " + target + ": response larger than "
                                + MAX_RESPONSE + " bytes", 8, null));
                        return;
                    }
                    content.readBytes(data, content.readableBytes());
                    if (d.isEndStream()) {
                        done(ctx, new CaCallException("CreateCertificate to " + target
                                + ": stream ended without grpc-status trailers", 13, null));
                    }
                } else if (msg instanceof Http2ResetFrame r) {
                    done(ctx, new CaCallException("CreateCertificate to " + target + ": stream reset by the CA (error "
                            + r.errorCode() + ')', 14, null));
                }
            } catch (java.io.IOException e) {
                done(ctx, new CaCallException("CreateCertificate to " + target + ": " + e, 13, e));
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void trailers(ChannelHandlerContext ctx, Http2Headers trailers) {
            CharSequence code = trailers.get("grpc-status");
            if (code == null) {
                done(ctx, new CaCallException("CreateCertificate to " + target + ": no grpc-status trailer", 13, null));
                return;
            }
            int status;
            try {
                status = Integer.parseInt(code.toString());
            } catch (NumberFormatException e) {
                done(ctx, new CaCallException("CreateCertificate to " + target + ": grpc-status " + code
                        + " (expected: a number)", 13, null));
                return;
            }
            if (status != 0) {
                CharSequence m = trailers.get("grpc-message");
                String text = m == null ? "" : URLDecoder.decode(m.toString().replace("+", "%2B"), StandardCharsets.UTF_8);
                done(ctx, new CaCallException("CreateCertificate to " + target + ": " + GrpcStatus.name(status)
                        + (text.isEmpty() ? "" : ": " + text), status, null));
                return;
            }
            byte[] bytes = data.toByteArray();
            if (bytes.length < 5) {
                done(ctx, new CaCallException("CreateCertificate to " + target + ": OK without a response message",
                        13, null));
                return;
            }
            if (bytes[0] != 0) {
                done(ctx, new CaCallException("CreateCertificate to " + target
                        + ": compressed response (expected: identity, none was offered)", 13, null));
                return;
            }
            int len = ((bytes[1] & 0xff) << 24) | ((bytes[2] & 0xff) << 16) | ((bytes[3] & 0xff) << 8) | (bytes[4] & 0xff);
            if (len != bytes.length - 5) {
                done(ctx, new CaCallException("CreateCertificate to " + target + ": message length " + len
                        + " (expected: " + (bytes.length - 5) + ", one message)", 13, null));
                return;
            }
            byte[] message = new byte[len];
            System.arraycopy(bytes, 5, message, 0, len);
            result.complete(message);
            ctx.close();
        }

        private void done(ChannelHandlerContext ctx, CaCallException e) {
            result.completeExceptionally(e);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.completeExceptionally(new CaCallException("CreateCertificate to " + target
                    + ": stream closed before the response", 14, null));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done(ctx, new CaCallException("CreateCertificate to " + target + ": " + cause, -1, cause));
        }

        /** gRPC's mapping of HTTP status to status codes (doc/http-grpc-status-mapping.md). */
        private static int statusFromHttp(CharSequence status) {
            if (status == null) {
                return 13;
            }
            return switch (status.toString()) {
                case "400" -> 13;
                case "401" -> 16;
                case "403" -> 7;
                case "404" -> 12;
                case "429", "502", "503", "504" -> 14;
                default -> 2;
            };
        }
    }
}
