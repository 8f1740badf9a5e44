package dev.waypoint.lb;

import dev.waypoint.model.request.TunnelContext;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Real exchanges through an {@link HttpUpstreamPool} for the pool's tests, run on one of their event loops. */
final class PoolExchange {
    private PoolExchange() {}

    /** What one exchange left: the connection it rode on (for h2c, the connection, not the stream) and the body. */
    record Result(Channel connection, String body) {}

    /**
     * Acquires an exchange channel to {@code e}, sends {@code GET /} with {@code host}, reads the
     * response to its end and gives the channel back as {@code how} says. Fails with the
     * acquire's failure, or if the upstream closes first.
     */
    static Result get(HttpUpstreamPool pool, EventLoop loop, Endpoint e, boolean h2, TunnelContext tunnel,
                      ConnectionOptions options, String host, Release how)
            throws InterruptedException, ExecutionException, TimeoutException {
        CompletableFuture<Result> done = new CompletableFuture<>();
        StringBuilder body = new StringBuilder();
        loop.execute(() -> {
            Channel[] held = new Channel[1];
            HttpUpstreamPool.Owner owner = owner(msg -> {
                if (msg instanceof HttpContent c) {
                    body.append(c.content().toString(StandardCharsets.UTF_8));
                }
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    Channel ch = held[0];
                    pool.release(ch, e, h2, how);
                    done.complete(new Result(h2 ? ch.parent() : ch, body.toString()));
                } else {
                    held[0].read();
                }
            }, () -> done.completeExceptionally(new IllegalStateException("closed")));
            pool.acquire(e, h2, tunnel, loop, owner, options).addListener(f -> {
                if (!f.isSuccess()) {
                    done.completeExceptionally(f.cause());
                    return;
                }
                Channel ch = (Channel) f.getNow();
                held[0] = ch;
                DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
                req.headers().set(HttpHeaderNames.HOST, host);
                ch.writeAndFlush(req);
                ch.read();
            });
        });
        return done.get(10, TimeUnit.SECONDS);
    }

    /** An owner that drops whatever the channel reads (a channel held, not read). */
    static HttpUpstreamPool.Owner discarding() {
        return owner(ReferenceCountUtil::release, () -> {});
    }

    /** An owner that hands what the channel reads to {@code read} (which releases it) and its close to {@code closed}. */
    static HttpUpstreamPool.Owner owner(java.util.function.Consumer<Object> read, Runnable closed) {
        return new HttpUpstreamPool.Owner() {
            @Override
            public void upstreamRead(Object msg) {
                read.accept(msg);
            }

            @Override
            public void upstreamReadComplete() {}

            @Override
            public void upstreamWritable() {}

            @Override
            public void upstreamClosed() {
                closed.run();
            }
        };
    }
}
