package dev.waypoint.telemetry;

import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
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
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports spans over OTLP/gRPC, as Envoy's OpenTelemetry tracer does for an Istio
 * {@code opentelemetry} provider without {@code http}: one unary
 * {@code opentelemetry.proto.collector.trace.v1.TraceService/Export} call per batch, on our own
 * HTTP/2 client (h2c with prior knowledge, one connection kept and reused) instead of grpc-java.
 * The request body is the SDK's own OTLP protobuf ({@link TraceRequestMarshaler}, the one its
 * OTLP/HTTP exporter sends) in gRPC's length-prefixed framing (a 0 compression byte and a 4-byte
 * big-endian length); headers {@code content-type: application/grpc}, {@code te: trailers},
 * {@code grpc-timeout}. A call succeeds when the answer is {@code :status 200} with
 * {@code grpc-status: 0} (in the trailers, or a trailers-only answer); anything else, a reset, a
 * connection failure or the timeout fails the export and is counted ({@link #failedExports},
 * {@link #droppedSpans}); the SDK's batch processor counts what it drops itself.
 *
 * <h2>Threading</h2>
 * {@link #export} is called on the batch processor's thread: the spans are marshalled and the
 * collector's host name resolved there (never on an event loop); the call itself runs on the
 * event loop it is given ({@link TracingProviders}' one-thread group for all OTLP/gRPC exporters,
 * never a data-plane loop), which owns the connection. {@link #shutdown} closes the connection;
 * the loop belongs to whoever made it.
 *
 * <h2>Reference counting</h2>
 * The request buffer is made in {@link #export} and handed to the stream's DATA frame (Netty
 * releases it once written or failed); when no stream could be opened it is released here.
 * Response DATA frames are released as they arrive (the body, an empty
 * {@code ExportTraceServiceResponse} or a partial-success note, is not read).
 */
final class OtlpGrpcSpanExporter implements SpanExporter, TracingProviders.ExportCounts {
    private static final Logger log = LoggerFactory.getLogger(OtlpGrpcSpanExporter.class);

    /** The unary method's path. */
    static final String PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    /** The OTel SDK's default OTLP export timeout; Istio sets none on the tracer's gRPC service. */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final String host;
    private final int port;
    private final String authority;
    private final Duration timeout;
    private final EventLoop loop;
    private final AtomicLong failedExports = new AtomicLong();
    private final AtomicLong droppedSpans = new AtomicLong();
    private final AtomicLong exports = new AtomicLong();

    /** The HTTP/2 connection; confined to {@link #loop}. */
    private Channel connection;
    /** How {@link #connection} was made; confined to {@link #loop}. */
    private ChannelFuture connecting;
    private volatile boolean shutdown;

    /**
     * @param endpoint the collector's {@code host:port} (an IP once resolved from the config, else a
     *        host name resolved per connection)
     * @param authority the {@code :authority} sent (the provider's {@code service:port}, as Envoy's
     *        gRPC service names its host)
     * @param loop where the calls run (not a data-plane loop)
     */
    OtlpGrpcSpanExporter(String endpoint, String authority, Duration timeout, EventLoop loop) {
        this.loop = loop;
        int colon = endpoint.lastIndexOf(':');
        String h = endpoint.substring(0, colon);
        this.host = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
        this.port = Integer.parseInt(endpoint.substring(colon + 1));
        this.authority = authority;
        this.timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
    }

    /** Export calls that failed (a non-OK {@code grpc-status}, an HTTP error, a reset, no connection, the timeout). */
    @Override
    public long failedExports() {
        return failedExports.get();
    }

    /** Spans in the failed calls. */
    @Override
    public long droppedSpans() {
        return droppedSpans.get();
    }

    /** Export calls that succeeded. */
    long exports() {
        return exports.get();
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
        CompletableResultCode result = new CompletableResultCode();
        if (shutdown) {
            return result.fail();
        }
        int count = spans.size();
        ByteBuf body;
        InetSocketAddress address;
        try {
            TraceRequestMarshaler request = TraceRequestMarshaler.create(spans);
            int size = request.getBinarySerializedSize();
            body = PooledByteBufAllocator.DEFAULT.heapBuffer(5 + size);
            try {
                body.writeByte(0); // not compressed
                body.writeInt(size);
                request.writeBinaryTo(new ByteBufOutputStream(body));
                // resolved here, on the batch thread: Netty's default resolver would block the loop
                address = new InetSocketAddress(InetAddress.getByName(host), port);
            } catch (IOException | RuntimeException e) {
                body.release();
                throw e;
            }
        } catch (UnknownHostException e) {
            failed(count, "cannot resolve " + host + ": " + e.getMessage());
            return result.fail();
        } catch (IOException | RuntimeException e) {
            failed(count, "cannot serialize spans: " + e);
            return result.fail();
        }
        try {
            loop.execute(() -> send(address, body, count, result));
        } catch (java.util.concurrent.RejectedExecutionException e) { // shut down meanwhile
            body.release();
            return result.fail();
        }
        return result;
    }

    /** On the loop: the connection (made when there is none), then one stream for the call. */
    private void send(InetSocketAddress address, ByteBuf body, int count, CompletableResultCode result) {
        Call call = new Call(body, count, result);
        call.timer = loop.schedule(() -> call.fail("no answer within " + timeout.toMillis() + " ms"),
                timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (connection != null && connection.isOpen()) {
            if (connecting.isDone()) {
                call.open(connection);
            } else { // still connecting (the batch processor exports one batch at a time, but flush may overlap)
                Channel pending = connection;
                connecting.addListener(c -> {
                    if (c.isSuccess()) {
                        call.open(pending);
                    } else {
                        call.fail("cannot connect to " + address + ": " + c.cause().getMessage());
                    }
                });
            }
            return;
        }
        ChannelFuture f = new Bootstrap().group(loop).channel(EventLoops.clientChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                // collectors push no streams; one that tried would get them closed
                                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                }).connect(address);
        connection = f.channel();
        connecting = f;
        f.addListener(c -> {
            if (c.isSuccess()) {
                call.open(f.channel());
            } else {
                call.fail("cannot connect to " + address + ": " + c.cause().getMessage());
            }
        });
    }

    private void failed(int count, String why) {
        droppedSpans.addAndGet(count);
        if (failedExports.getAndIncrement() == 0) {
            log.warn("OTLP/gRPC export to {}:{} failed: {} (further failures are counted, not logged)", host, port, why);
        }
    }

    /** One unary call; confined to the loop. */
    private final class Call extends ChannelInboundHandlerAdapter {
        private ByteBuf body;
        private final int count;
        private final CompletableResultCode result;
        private ScheduledFuture<?> timer;
        private Http2StreamChannel stream;
        private String status;
        private String grpcStatus;
        private String grpcMessage;
        private boolean done;

        Call(ByteBuf body, int count, CompletableResultCode result) {
            this.body = body;
            this.count = count;
            this.result = result;
        }

        void open(Channel parent) {
            if (done) {
                return;
            }
            new Http2StreamChannelBootstrap(parent).handler(this).open().addListener((Future<Http2StreamChannel> f) -> {
                if (!f.isSuccess()) {
                    parent.close(); // a GOAWAY'd or broken connection: the next call dials a new one
                    fail("cannot open a stream: " + f.cause().getMessage());
                    return;
                }
                stream = f.getNow();
                if (done) {
                    stream.close();
                    return;
                }
                Http2Headers headers = new DefaultHttp2Headers().method("POST").scheme("http").path(PATH)
                        .authority(authority);
                headers.add("content-type", "application/grpc");
                headers.add("te", "trailers");
                headers.add("grpc-timeout", Math.max(1, timeout.toMillis()) + "m");
                stream.write(new DefaultHttp2HeadersFrame(headers, false));
                ByteBuf b = body;
                body = null; // the DATA frame owns it now
                stream.writeAndFlush(new DefaultHttp2DataFrame(b, true)).addListener(w -> {
                    if (!w.isSuccess()) {
                        fail("write failed: " + w.cause().getMessage());
                    }
                });
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    if (status == null) {
                        CharSequence s = h.headers().status();
                        status = s == null ? "?" : s.toString();
                    }
                    CharSequence gs = h.headers().get("grpc-status");
                    if (gs != null) {
                        grpcStatus = gs.toString();
                        CharSequence gm = h.headers().get("grpc-message");
                        grpcMessage = gm == null ? null : gm.toString();
                    }
                    if (h.isEndStream()) {
                        end();
                    }
                } else if (msg instanceof Http2DataFrame d && d.isEndStream()) {
                    end(); // a body ending the stream: no trailers, so no grpc-status
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame r) {
                fail("stream reset by the collector (" + r.errorCode() + ")");
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail("stream closed before the call ended");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(cause.toString());
            ctx.close();
        }

        private void end() {
            if (!"200".equals(status)) {
                fail("HTTP status " + status);
            } else if (!"0".equals(grpcStatus)) {
                fail("grpc-status " + grpcStatus + (grpcMessage == null ? "" : " (" + grpcMessage + ")"));
            } else if (finish()) {
                exports.incrementAndGet();
                result.succeed();
            }
        }

        void fail(String why) {
            if (finish()) {
                failed(count, why);
                result.fail();
            }
        }

        /** Ends the call once: the timer, the stream, an unsent body. */
        private boolean finish() {
            if (done) {
                return false;
            }
            done = true;
            if (timer != null) {
                timer.cancel(false);
            }
            if (body != null) {
                body.release();
                body = null;
            }
            if (stream != null) {
                stream.close();
            }
            return true;
        }
    }

    @Override
    public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess(); // every export is a call of its own
    }

    @Override
    public CompletableResultCode shutdown() {
        shutdown = true;
        CompletableResultCode done = new CompletableResultCode();
        try {
            loop.execute(() -> {
                if (connection != null) {
                    connection.close();
                    connection = null;
                }
                done.succeed();
            });
        } catch (java.util.concurrent.RejectedExecutionException e) { // the loop is gone, and its channels
            done.succeed();
        }
        return done;
    }
}
