package dev.waypoint.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the waypoint does to every inner HTTP/1.1 exchange: the request bytes are decoded by an
 * {@link HttpServerCodec} (the tunnel side) and its objects re-encoded by an
 * {@link HttpClientCodec} (the upstream side); the response bytes go the other way. Both on
 * {@link EmbeddedChannel}s, keep-alive, so one op = one request + one response, parsed and
 * re-encoded once each. Header sanitising and routing are not included.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class Http1ProxyCodecBench {
    /** Request (and echoed response) body bytes: 0 = GET with a small text answer. */
    @Param({"0", "1024"})
    public int body;

    private EmbeddedChannel downstream;
    private EmbeddedChannel upstream;
    private ByteBuf request;
    private ByteBuf response;

    @Setup(Level.Trial)
    public void setUp() {
        downstream = new EmbeddedChannel(new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(8192).setMaxHeaderSize(64 << 10).setMaxChunkSize(64 << 10)));
        upstream = new EmbeddedChannel(new HttpClientCodec());
        String payload = "x".repeat(body);
        String req = (body > 0 ? "POST" : "GET") + " /api/v1/items?id=42 HTTP/1.1\r\n"
                + "host: bench-http.bench.svc.cluster.local\r\n"
                + "user-agent: fortio.org/fortio-1.66.0\r\n"
                + "accept: */*\r\n"
                + "x-request-id: 6f1c0f6c-2f55-4b39-9a55-3a1a1b5b1c7e\r\n"
                + (body > 0 ? "content-type: application/octet-stream\r\ncontent-length: " + body + "\r\n" : "")
                + "\r\n" + payload;
        String bodyOut = body > 0 ? payload : "ok\n";
        String res = "HTTP/1.1 200 OK\r\n"
                + "content-type: application/octet-stream\r\n"
                + "date: Tue, 24 Nov 2026 03:00:00 GMT\r\n"
                + "server: backend\r\n"
                + "content-length: " + bodyOut.length() + "\r\n"
                + "\r\n" + bodyOut;
        request = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes(req.getBytes(StandardCharsets.US_ASCII));
        response = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes(res.getBytes(StandardCharsets.US_ASCII));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        request.release();
        response.release();
        downstream.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
    }

    @Benchmark
    public int exchange() {
        int bytes = 0;
        // request: tunnel bytes -> objects -> upstream bytes
        downstream.writeInbound(request.retainedDuplicate());
        Object o;
        while ((o = downstream.readInbound()) != null) {
            upstream.write(o);
        }
        upstream.flush();
        bytes += drainBytes(upstream);
        // response: upstream bytes -> objects -> tunnel bytes
        upstream.writeInbound(response.retainedDuplicate());
        while ((o = upstream.readInbound()) != null) {
            downstream.write(o);
        }
        downstream.flush();
        bytes += drainBytes(downstream);
        return bytes;
    }

    private static int drainBytes(EmbeddedChannel ch) {
        int n = 0;
        Object o;
        while ((o = ch.readOutbound()) != null) {
            if (o instanceof ByteBuf b) {
                n += b.readableBytes();
            }
            ReferenceCountUtil.release(o);
        }
        return n;
    }
}
