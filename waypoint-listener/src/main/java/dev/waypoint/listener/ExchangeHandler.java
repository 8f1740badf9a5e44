package dev.waypoint.listener;

import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.BodyChunk;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TargetResolution;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.DrainEvent;
import dev.waypoint.transport.ExchangeSink;
import dev.waypoint.transport.HalfClose;
import dev.waypoint.transport.HandlerNames;
import dev.waypoint.transport.HeldBytes;
import dev.waypoint.transport.Relay;
import dev.waypoint.transport.UpstreamCall;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import dev.waypoint.transport.WebSocketUpgrade;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the requests of one inner HTTP channel: the tunnel itself for HTTP/1.1 (every request of
 * the tunnel, one at a time), or one inner HTTP/2 stream (one request). The only handler behind
 * the inner codec; every request stage runs inside it as a plain-Java {@link HttpFilter} over a
 * {@link RequestContext}, then the {@link dev.waypoint.transport.UpstreamStage} forwards it.
 *
 * <h2>Ordering (HTTP/1.1)</h2>
 * Requests are serialized <em>before</em> any stage runs: a pipelined request waits, decoded but
 * untouched, until the response of the one before it has been written completely; only then is
 * its context built, its snapshot pinned and its filters run. So every response, whether
 * relayed, a local reply from any stage, or an error for a malformed request, leaves in request
 * order, and no stage ever sees a request out of turn.
 *
 * <h2>WebSocket (HTTP/1.1)</h2>
 * An upgrade request ({@link WebSocketUpgrade#requested}) is the last HTTP request of its tunnel:
 * the request decoder goes after its last piece ({@code watchUpgrade}). A {@code 101} turns the
 * tunnel and the upstream connection into a {@link Relay} and this handler leaves the pipeline
 * ({@code startRelay}); any other answer ends the tunnel after it.
 *
 * <h2>Config</h2>
 * Each request pins the snapshot current when its turn comes and re-resolves the tunnel's
 * {@code :authority} in it: a keep-alive tunnel or an h2c connection sees new endpoints and
 * policies on its next request. A target that is no longer bound gets a 503
 * {@code target_no_longer_bound} and the tunnel ends after it (the {@code lifecycle} handler ends
 * such tunnels on its own when the new generation arrives).
 *
 * <h2>The outcome</h2>
 * Every request's {@link RequestOutcome} is closed exactly once: when the last piece of its
 * response (relayed or local) has been written and flushed to the channel (not when the peer
 * acknowledged it), when it was reset, or when the client went away;
 * then {@link HttpFilter#onComplete} runs on every filter (also those the request never reached:
 * telemetry must see a malformed request's 400 too).
 *
 * <h2>Backpressure</h2>
 * {@code AUTO_READ} is off. The channel is read while waiting for a request head, and during a
 * request only while its body is wanted: the upstream can take it (or it is being discarded
 * after a local reply). A paused filter stops reading. Response reads upstream happen only
 * while this channel is writable ({@link ExchangeSink#isWritable()}).
 *
 * <h2>Reference counting</h2>
 * Request objects are handed to the upstream stage (ownership moves) or released here (queued
 * objects of a channel that closed, bodies after a local reply); response objects from the sink
 * are written to the client or released when their request is already over.
 *
 * <h2>Threading</h2>
 * The channel's event loop only; a filter that paused resumes through {@code execute} on it.
 */
final class ExchangeHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ExchangeHandler.class);

    private final TunnelContext tunnel;
    private final SnapshotSource snapshots;
    private final RequestChain chain;
    private final boolean h2;
    private final LongSupplier ticker;

    private ChannelHandlerContext ctx;
    /** Decoded objects not yet taken by a request: the next pipelined request(s). */
    private final ArrayDeque<Object> queue = new ArrayDeque<>(4);
    private InboundRequest current;
    private boolean processing;
    private boolean inputClosed;
    /** HTTP/1.1 request heads read and not yet answered (in flight and queued); see {@link #MAX_PIPELINED}. */
    private int pipelined;
    /** More than {@link #MAX_PIPELINED} came at once: no more input is taken. */
    private boolean overPipelined;
    /** Drain, or the target was unbound: end the tunnel after the request in flight. */
    private boolean ending;
    /** No more input is taken: the tunnel is ending or gone. */
    private boolean closed;
    /**
     * The target table of the last request's snapshot and what the tunnel's authority resolved to
     * in it: the authority is the tunnel's and the table immutable, so requests of one config
     * generation reuse the answer instead of parsing the authority again (~150 ns and an address
     * object per request); a new generation's table resolves afresh.
     */
    private TargetTable resolvedIn;
    private TargetResolution resolved;

    ExchangeHandler(TunnelContext tunnel, SnapshotSource snapshots, RequestChain chain, boolean h2) {
        this(tunnel, snapshots, chain, h2, System::nanoTime);
    }

    ExchangeHandler(TunnelContext tunnel, SnapshotSource snapshots, RequestChain chain, boolean h2, LongSupplier ticker) {
        this.tunnel = tunnel;
        this.snapshots = snapshots;
        this.chain = chain;
        this.h2 = h2;
        this.ticker = ticker;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.channel().config().setOption(ChannelOption.AUTO_READ, false);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // inner HTTP/2 streams: added before the stream is active, so this is their first read; an
        // HTTP/1.1 tunnel is already active when the sniffer adds us and replays the first bytes
        maybeRead();
        ctx.fireChannelActive();
    }

    // --- the request side ---

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closed || overPipelined) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!h2 && msg instanceof HttpRequest && ++pipelined > MAX_PIPELINED) {
            // more pipelined requests in one burst than are held at once: those before are answered in
            // order, then the tunnel ends as if the client had ended its side, and the client sends the
            // rest again on a new one (RFC 9112 §9.3.2); what the burst still decodes is dropped. (The
            // queue stops further reads, so a burst is what one read delivers.)
            log.debug("tunnel to {}: more than {} pipelined requests at once; answering those, then ending the tunnel",
                    tunnel.target().authority(), MAX_PIPELINED);
            overPipelined = true;
            inputClosed = true;
            ReferenceCountUtil.release(msg);
            return;
        }
        queue.add(msg);
        if (!h2) {
            watchUpgrade(msg);
            if (msg instanceof HttpRequest req) {
                midRequest = req.decoderResult().isSuccess() && !(msg instanceof LastHttpContent);
            } else if (msg instanceof LastHttpContent) {
                midRequest = false;
            }
        }
        process();
    }

    /**
     * HTTP/1.1: the last request read has its head and not yet its last piece. Netty's decoder says
     * nothing when the input ends there (its {@code decodeLast} counts an unfinished request body
     * as "did not wait for a response" and drops it), so {@link #userEventTriggered} ends it.
     */
    private boolean midRequest;

    /** The last request head read asked for a WebSocket upgrade. */
    private boolean upgradeRead;

    /**
     * An upgrade is the last HTTP request of its tunnel: once its last piece is read, the
     * request decoder goes (as Netty's {@code HttpServerUpgradeHandler} removes it), so whatever
     * the client sends after it stays bytes, queued here, and reaches the backend only if the
     * backend switches protocols ({@link InboundRequest#startRelay}); otherwise the tunnel ends
     * after the answer and they are dropped.
     */
    private void watchUpgrade(Object msg) {
        if (msg instanceof HttpRequest req) {
            upgradeRead = req.decoderResult().isSuccess() && WebSocketUpgrade.requested(req);
        }
        if (upgradeRead && msg instanceof LastHttpContent) {
            upgradeRead = false;
            if (ctx.pipeline().get(HandlerNames.H1) instanceof HttpServerCodec codec) {
                codec.removeInboundHandler(); // what it still holds comes back as bytes, into the queue
            }
        }
    }

    /** Hands queued objects to the request whose turn it is; a request head waits until the one before is finished. */
    private void process() {
        if (processing) {
            return; // re-entered from a request that finished synchronously; the loop below goes on
        }
        processing = true;
        try {
            while (!queue.isEmpty() && !closed) {
                if (current == null) {
                    Object m = queue.poll();
                    if (m instanceof HttpRequest req) {
                        current = new InboundRequest(req);
                        current.begin();
                    } else {
                        ReferenceCountUtil.release(m); // body bytes of no request (the decoder gave up)
                    }
                } else {
                    Object m = queue.peek();
                    if (m instanceof HttpRequest || current.requestDone) {
                        break; // the next request: its turn comes when this one is finished
                    }
                    queue.poll();
                    if (m instanceof HttpContent c) {
                        current.content(c);
                    } else {
                        ReferenceCountUtil.release(m);
                    }
                }
            }
        } finally {
            processing = false;
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null && current.call != null) {
            current.call.flushRequest(); // head and body of one burst leave in one write
        }
        maybeRead();
        ctx.fireChannelReadComplete();
    }

    private void maybeRead() {
        if (closed || !queue.isEmpty() || !ctx.channel().isActive()) {
            return; // what is queued is consumed first
        }
        if (current == null ? !inputClosed && !ending : current.wantsBody()) {
            ctx.read();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && current != null && current.call != null) {
            current.call.responseWritable();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) {
            // HTTP/1.1: the client ended its side
            inputClosed = true;
            if (midRequest) {
                // in the middle of a request's body: an incomplete message (RFC 9112 §8), which the
                // request answers as a malformed body (400, or a reset once its response started)
                // after the pieces already read; before, it waited for the rest until the idle timeout
                midRequest = false;
                DefaultLastHttpContent cut = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
                cut.setDecoderResult(io.netty.handler.codec.DecoderResult.failure(
                        new io.netty.handler.codec.PrematureChannelClosureException(
                                "the client ended its side before the end of the request body")));
                queue.add(cut);
                process();
                return;
            }
            if (current == null && queue.isEmpty()) {
                endTunnel();
            }
            return;
        }
        if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame) {
            // reset by the client: Netty keeps a reset stream open until what it holds is read, and
            // while a request's body is held back (the upstream does not take it) nothing reads it.
            // Closed later, not now: the codec closes the stream right after this event, and closing
            // before that would answer the RST_STREAM with one (RFC 9113 §5.4.2). channelInactive
            // ends the request in flight as the client's disconnect.
            ctx.executor().execute(() -> ctx.channel().close());
            return;
        }
        if (evt instanceof DrainEvent || evt instanceof TunnelLifecycle.Unbound) {
            // finish the request in flight, then end; an idle tunnel ends now
            ending = true;
            if (!h2 && current == null && queue.isEmpty()) {
                endTunnel();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closed = true;
        while (!queue.isEmpty()) {
            ReferenceCountUtil.release(queue.poll());
        }
        if (current != null) {
            current.clientGone();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a stream error or reset the client caused is its fault: one DEBUG line (PeerFaults)
        dev.waypoint.transport.PeerFaults.log(log, "request channel to " + tunnel.target().authority() + " failed", cause);
        ctx.close();
    }

    /**
     * Pipelined requests held at once, decoded and not yet answered (the request in flight and the
     * ones queued behind it): Netty's {@code HttpServerCodec} default {@code maxPipelineDepth}, which
     * the codec of a tunnel does not enforce itself (past it, Netty closes after the next response,
     * dropping the rest; see {@link #channelRead}).
     */
    static final int MAX_PIPELINED = 128;

    private void endTunnel() {
        if (closed) {
            return;
        }
        closed = true;
        ctx.channel().flush();
        // END_STREAM, then the close once the client ended its side too (no reset: HalfClose.finish)
        HalfClose.finish(ctx.channel());
    }

    /** After a request finished: the next one, or the end of the tunnel. */
    private void next(boolean keepAlive) {
        current = null;
        if (h2) {
            return; // the inner stream ended with the response
        }
        pipelined--;
        if (!keepAlive || ending || inputClosed && queue.isEmpty()) {
            endTunnel();
            return;
        }
        process();
        if (current != null && current.call != null) {
            current.call.flushRequest(); // a queued request started outside a read burst
        }
        maybeRead();
    }

    /**
     * One request, from its head to its outcome; also the sink its upstream stage delivers to.
     *
     * <p><b>State.</b> {@code requestDone}: the request's last piece arrived (or it was malformed).
     * {@code responseStarted}: a final response head (relayed or local) went to the client.
     * {@code responseDone}: its last piece went too. {@code localReply}: that response was ours.
     * {@code discarding}: after a local reply, the rest of the body is read and dropped.
     * {@code closeAfter}: the tunnel ends after this request (malformed input, target gone).
     * {@code finished}: the outcome is closed; nothing more happens to this request.
     *
     * <p><b>Who flushes the request upstream.</b> The channel's read-complete, once per read
     * burst (head and body of one burst leave in one write); and, for work started outside a
     * read burst, the code that started it: a queued pipelined request ({@code next}), a resumed
     * filter ({@code resumed}), and the upstream stage itself when its connection arrives or a
     * retry starts.
     *
     * <p><b>The end.</b> The upstream stage gives its connection back to the pool before it hands
     * the response's last piece to {@link #responseContent}, so the next pipelined request, which
     * starts from inside that call, can reuse it.
     */
    /** The tunnel's authority resolved in {@code table} (cached per table: see {@link #resolvedIn}). */
    private TargetResolution resolveTarget(TargetTable table) {
        if (table != resolvedIn) {
            resolved = TargetResolver.resolve(tunnel.target().authority(), table);
            resolvedIn = table;
        }
        return resolved;
    }

    private final class InboundRequest implements ExchangeSink {
        private HttpRequest head;
        private RequestContext rc;
        private final RequestOutcome outcome;
        private boolean keepAlive;
        private boolean grpc;
        /** gRPC message counts (istio_request_messages_total, istio_response_messages_total); null unless gRPC. */
        private GrpcMessageCounter requestMessages;
        private GrpcMessageCounter responseMessages;
        /** How many filters' {@code onRequest} ran: those (and only those) see the response head. */
        private int ran;
        private boolean paused;
        private boolean requestDone;
        private boolean responseStarted;
        private boolean responseDone;
        private boolean localReply;
        /** A local reply was sent: the rest of the request body is read and dropped. */
        private boolean discarding;
        /** End the tunnel after this request (malformed request, target gone). */
        private boolean closeAfter;
        private boolean finished;
        private UpstreamCall call;
        /** A WebSocket upgrade request (the last request of its tunnel, unless the backend switches). */
        private boolean upgrade;
        /** The backend answered the upgrade with 101: the tunnel becomes a relay after it. */
        private boolean switched;
        /** Body received before the upstream stage started (filters running or paused). */
        private ArrayDeque<HttpContent> pending;
        /**
         * Bit i: filter i wants the request body ({@link HttpFilter#wantsRequestBody}); 0 for most
         * requests. Shorts (the first 16 filters: the list has 9) fit the object's padding, so a
         * request costs no more than before bodies were seen by filters (RequestChainBench).
         */
        private short requestBodyFilters;
        /** Bit i: filter i wants the response body; 0 for most requests. */
        private short responseBodyFilters;

        InboundRequest(HttpRequest head) {
            this.head = head;
            this.outcome = new RequestOutcome(ticker.getAsLong());
        }

        void begin() {
            keepAlive = h2 || HttpUtil.isKeepAlive(head);
            if (head instanceof LastHttpContent) {
                requestDone = true; // a full request: head and body in one
            }
            ConfigSnapshot snapshot = snapshots.current();
            TargetResolution resolved = resolveTarget(snapshot.part(TargetTable.PART));
            Target target = resolved instanceof Target t ? t : tunnel.target();
            NettyHeaders headers = new NettyHeaders(head.headers());
            RequestView view = new RequestView(head, tunnel, headers, h2);
            grpc = view.grpc();
            if (grpc) {
                requestMessages = new GrpcMessageCounter();
                responseMessages = new GrpcMessageCounter();
            }
            if (!h2 && WebSocketUpgrade.requested(head)) {
                upgrade = true;
                closeAfter = true; // an answer other than 101 is the tunnel's last (its input is no longer HTTP)
            }
            rc = new RequestContext(tunnel, snapshot, target, view, headers, outcome, view::setPath);
            DecoderResult decoded = head.decoderResult();
            if (decoded.isFailure()) {
                // the codec stops parsing after a bad head: answer, then end the tunnel
                requestDone = true;
                closeAfter = true;
                reply(malformed(decoded.cause()), Map.of());
                return;
            }
            Rejection badHead = h2 ? null : http1Head(head);
            if (badHead != null) {
                closeAfter = true;
                reply(badHead, Map.of());
                return;
            }
            if (resolved instanceof Rejection r) {
                closeAfter = true;
                reply(new Rejection(Rejection.Reason.TARGET_UNBOUND, r.message()), Map.of());
                return;
            }
            runFilters(0);
        }

        private void runFilters(int from) {
            HttpFilter[] filters = chain.filters();
            for (int i = from; i < filters.length; i++) {
                ran = i + 1;
                FilterResult r;
                try {
                    r = filters[i].onRequest(rc);
                } catch (RuntimeException e) {
                    log.warn("stage {} failed on {}", filters[i].name(), rc, e);
                    reply(new Rejection(Rejection.Reason.INTERNAL, "stage " + filters[i].name() + " failed"), Map.of());
                    return;
                }
                if (r == FilterResult.CONTINUE) {
                    continue;
                }
                if (!apply(i, r)) {
                    return;
                }
            }
            forward();
        }

        /** Acts on a non-continue result of filter {@code i}; true if the chain goes on. */
        private boolean apply(int i, FilterResult r) {
            if (r instanceof FilterResult.Reply reply) {
                reply(reply.rejection(), reply.headers());
                return false;
            }
            if (r instanceof FilterResult.Pause pause) {
                paused = true;
                pause.later().whenComplete((res, err) -> ctx.executor().execute(() -> resumed(i, res, err)));
                return false;
            }
            if (r instanceof FilterResult.Retry retry) {
                paused = true;
                retry.ready().whenComplete((res, err) -> ctx.executor().execute(() -> retried(i)));
                return false;
            }
            return true;
        }

        /** A {@link FilterResult.Retry} of filter {@code i} is due: run the chain again from that filter. */
        private void retried(int i) {
            if (finished) {
                return; // the client went away meanwhile
            }
            paused = false;
            runFilters(i);
            if (call != null) {
                call.flushRequest(); // resumed outside a read burst: nobody else flushes
            }
            if (this == current) {
                maybeRead();
            }
        }

        private void resumed(int i, FilterResult r, Throwable err) {
            if (finished) {
                return; // the client went away meanwhile
            }
            paused = false;
            if (err != null || r == null) {
                log.warn("stage {} failed on {}", chain.filters()[i].name(), rc, err);
                reply(new Rejection(Rejection.Reason.INTERNAL, "stage " + chain.filters()[i].name() + " failed"), Map.of());
            } else if (r == FilterResult.CONTINUE || apply(i, r)) {
                runFilters(i + 1);
            }
            if (call != null) {
                call.flushRequest(); // resumed outside a read burst: nobody else flushes
            }
            if (this == current) {
                maybeRead();
            }
        }

        private void forward() {
            HttpRequest h = head;
            head = null;
            wantRequestBody(h);
            UpstreamCall c = chain.upstream().start(rc, h, h2, ctx.channel().eventLoop(), this);
            if (discarding || finished) {
                releasePending(); // it failed at once (no endpoint): the local reply is out
                return;
            }
            call = c;
            if (pending != null) {
                while (!pending.isEmpty()) {
                    requestOut(pending.poll());
                }
            }
        }

        boolean wantsBody() {
            return !requestDone && !paused && (discarding || call != null && call.isRequestWritable());
        }

        void content(HttpContent c) {
            if (c.decoderResult().isFailure()) {
                // a bad chunk, or the client closed in the middle of the body
                Throwable cause = c.decoderResult().cause();
                c.release();
                requestDone = true;
                closeAfter = true;
                if (responseStarted) {
                    reset("DPE", "downstream_protocol_error", RequestOutcome.End.DOWNSTREAM_RESET);
                } else {
                    reply(malformed(cause), Map.of());
                }
                return;
            }
            outcome.addRequestBytes(c.content().readableBytes());
            if (requestMessages != null) {
                outcome.addRequestMessages(requestMessages.count(c.content()));
            }
            boolean last = c instanceof LastHttpContent;
            if (discarding) {
                c.release();
            } else if (call != null) {
                requestOut(c);
            } else {
                if (pending == null) {
                    pending = new ArrayDeque<>(2);
                }
                pending.add(c);
            }
            if (last) {
                requestDone = true;
                maybeFinish();
            }
        }

        // --- ExchangeSink: what the upstream stage delivers ---

        @Override
        public boolean isWritable() {
            return ctx.channel().isWritable();
        }

        @Override
        public void responseHead(HttpResponse res) {
            if (finished || responseDone) {
                ReferenceCountUtil.release(res);
                return;
            }
            HttpResponseStatus status = res.status();
            if (!h2) {
                res.setProtocolVersion(HttpVersion.HTTP_1_1);
            }
            if (status.codeClass() == HttpStatusClass.INFORMATIONAL && status.code() != 101) {
                ctx.writeAndFlush(res); // 100 Continue and friends pass through; the final response follows
                return;
            }
            responseStarted = true;
            switched = upgrade && status.code() == 101;
            outcome.status(status.code());
            outcome.responseStarted(ticker.getAsLong());
            grpcStatus(res.headers()); // trailers-only responses carry it here
            respondFilters(status.code(), res);
            LastHttpContent bodyTail = null;
            if (wantResponseBody(res) && res instanceof FullHttpResponse full) {
                // the filters see a full response's body as its one last piece
                bodyTail = new DefaultLastHttpContent(full.content(), full.trailingHeaders());
                res = new DefaultHttpResponse(full.protocolVersion(), full.status(), full.headers());
            }
            if (!h2) {
                if (!(res instanceof FullHttpResponse) && !HttpUtil.isContentLengthSet(res)
                        && !HttpUtil.isTransferEncodingChunked(res) && mayHaveBody(status)) {
                    HttpUtil.setTransferEncodingChunked(res, true);
                }
                if ((!keepAlive || ending || closeAfter) && !switched) {
                    res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                }
            }
            boolean last = res instanceof LastHttpContent;
            if (last) {
                outcome.addResponseBytes(((LastHttpContent) res).content().readableBytes());
                if (responseMessages != null) {
                    outcome.addResponseMessages(responseMessages.count(((LastHttpContent) res).content()));
                }
            }
            ctx.write(res);
            if (last) {
                responseEnded();
            }
            if (bodyTail != null) {
                responseContent(bodyTail);
            }
        }

        @Override
        public void responseContent(HttpContent c) {
            if (finished || responseDone || !responseStarted) {
                c.release();
                return;
            }
            if (responseBodyFilters != 0 && (c = filterResponseBody(c)) == null) {
                return; // held by a filter, or the stream was reset
            }
            outcome.addResponseBytes(c.content().readableBytes());
            if (responseMessages != null) {
                outcome.addResponseMessages(responseMessages.count(c.content()));
            }
            boolean last = c instanceof LastHttpContent;
            if (last) {
                grpcStatus(((LastHttpContent) c).trailingHeaders());
            }
            ctx.write(c);
            if (last) {
                responseEnded();
            }
        }

        private void grpcStatus(io.netty.handler.codec.http.HttpHeaders headers) {
            String g = grpc ? headers.get("grpc-status") : null;
            if (g != null) {
                try {
                    outcome.grpcStatus(Integer.parseInt(g.trim()));
                } catch (NumberFormatException e) {
                    outcome.grpcStatus(2); // UNKNOWN: what a gRPC client makes of an unparsable status
                }
            }
        }

        private void responseEnded() {
            responseDone = true;
            ctx.flush();
            if (switched) {
                startRelay();
                return;
            }
            maybeFinish();
        }

        /**
         * The {@code 101} is out: both connections leave HTTP and become one byte relay
         * ({@link Relay}, with its backpressure, half-close and reset), this handler and the
         * tunnel's codec leave the pipeline, and the client's bytes read past the upgrade go
         * first. The outcome (status 101, the bytes each way) closes when the tunnel ends.
         */
        private void startRelay() {
            Channel up = call != null ? call.takeUpgraded() : null;
            call = null;
            requestDone = true;
            if (up == null || !up.isActive()) {
                if (up != null) {
                    up.close();
                }
                reset("UC", "upstream_reset_after_response_started", RequestOutcome.End.UPSTREAM_RESET);
                return;
            }
            Channel down = ctx.channel();
            closed = true; // this handler takes no more input
            HeldBytes held = HeldBytes.install(down);
            while (!queue.isEmpty()) {
                Object m = queue.poll();
                if (m instanceof io.netty.buffer.ByteBuf b) {
                    held.hold(b);
                } else {
                    ReferenceCountUtil.release(m);
                }
            }
            if (inputClosed) {
                held.inputEnded();
            }
            ChannelPipeline p = ctx.pipeline();
            if (p.get(HandlerNames.H1) != null) {
                p.remove(HandlerNames.H1);
            }
            p.remove(ExchangeHandler.this);
            down.closeFuture().addListener(f -> finish(RequestOutcome.End.RESPONSE));
            log.debug("{}: switched to WebSocket", rc);
            Relay.start(down, up, outcome::addRequestBytes, outcome::addResponseBytes, () -> {
                HeldBytes.replay(down);
                HeldBytes.replay(up);
            });
        }

        @Override
        public void responseFlush() {
            if (!finished) {
                ctx.flush();
            }
        }

        @Override
        public void requestWritable() {
            if (this == current) {
                maybeRead();
            }
        }

        @Override
        public void failed(Rejection r) {
            if (finished) {
                return;
            }
            call = null; // the upstream stage is done with this request
            if (!responseStarted) {
                reply(r, Map.of());
            } else {
                log.info("upstream failed mid-response for {}: {}; resetting the client stream", rc, r);
                reset(r.reason() == Rejection.Reason.REQUEST_TIMEOUT ? "UT" : "UR", r.reason().code(),
                        RequestOutcome.End.UPSTREAM_RESET);
            }
        }

        // --- bodies through the filters that want them (nothing of this runs for other requests) ---

        /** Asks the filters that ran whether they want the request body; if one does, the length may change. */
        private void wantRequestBody(HttpRequest h) {
            requestBodyFilters = bodyFilters(true);
            if (requestBodyFilters != 0 && HttpUtil.getContentLength(h, 0L) > 0) {
                // a request without a body stays without one (a GET must not turn chunked)
                h.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
                HttpUtil.setTransferEncodingChunked(h, true); // h2 upstreams drop it, h1 ones chunk the body
            }
        }

        /** As {@link #wantRequestBody}, for the response (after its head passed the filters). */
        private boolean wantResponseBody(HttpResponse res) {
            // a HEAD response has no body (and must keep its content-length)
            responseBodyFilters = mayHaveBody(res.status()) && !rc.attributes().method().equals("HEAD")
                    ? bodyFilters(false) : (short) 0;
            if (responseBodyFilters == 0) {
                return false;
            }
            res.headers().remove(HttpHeaderNames.CONTENT_LENGTH); // chunked for HTTP/1.1 clients below
            return true;
        }

        private short bodyFilters(boolean request) {
            HttpFilter[] filters = chain.filters();
            int mask = 0;
            for (int i = 0; i < ran && i < 16; i++) {
                try {
                    if (request ? filters[i].wantsRequestBody(rc) : filters[i].wantsResponseBody(rc)) {
                        mask |= 1 << i;
                    }
                } catch (RuntimeException e) {
                    log.warn("stage {} failed on {}", filters[i].name(), rc, e);
                }
            }
            return (short) mask;
        }

        /** A request body piece to the upstream stage, through the filters that want it. */
        private void requestOut(HttpContent c) {
            if (requestBodyFilters == 0) {
                call.requestContent(c);
                return;
            }
            HttpContent out = filterRequestBody(c);
            if (out == null) {
                return;
            }
            if (call != null) {
                call.requestContent(out);
            } else {
                out.release();
            }
        }

        /** What goes upstream of {@code c} (released here), or null: held by a filter, or answered. */
        private HttpContent filterRequestBody(HttpContent c) {
            boolean last = c instanceof LastHttpContent;
            HttpHeaders trailers = last ? ((LastHttpContent) c).trailingHeaders() : null;
            BodyChunk chunk = new BodyChunk(ByteBufUtil.getBytes(c.content()), last);
            c.release();
            HttpFilter[] filters = chain.filters();
            for (int i = 0; i < filters.length && i < 16; i++) {
                if ((requestBodyFilters & (1 << i)) == 0) {
                    continue;
                }
                FilterResult r;
                try {
                    r = filters[i].onRequestBody(rc, chunk);
                } catch (RuntimeException e) {
                    log.warn("stage {} failed on the request body of {}", filters[i].name(), rc, e);
                    r = null;
                }
                if (r instanceof FilterResult.Reply reply) {
                    reply(reply.rejection(), reply.headers());
                    return null;
                }
                if (r != FilterResult.CONTINUE) {
                    reply(new Rejection(Rejection.Reason.INTERNAL, "stage " + filters[i].name() + " failed"), Map.of());
                    return null;
                }
            }
            if (trailers != null && !trailers.isEmpty()) {
                NettyHeaders view = new NettyHeaders(trailers);
                for (int i = 0; i < filters.length && i < 16; i++) {
                    if ((requestBodyFilters & (1 << i)) != 0) {
                        try {
                            filters[i].onRequestTrailers(rc, view);
                        } catch (RuntimeException e) {
                            log.warn("stage {} failed on the request trailers of {}", filters[i].name(), rc, e);
                        }
                    }
                }
            }
            return rebuilt(chunk, trailers);
        }

        /** What goes to the client of {@code c} (released here), or null: held by a filter, or the stream was reset. */
        private HttpContent filterResponseBody(HttpContent c) {
            boolean last = c instanceof LastHttpContent;
            HttpHeaders trailers = last ? ((LastHttpContent) c).trailingHeaders() : null;
            BodyChunk chunk = new BodyChunk(ByteBufUtil.getBytes(c.content()), last);
            c.release();
            HttpFilter[] filters = chain.filters();
            for (int i = Math.min(filters.length, 16) - 1; i >= 0; i--) {
                if ((responseBodyFilters & (1 << i)) == 0) {
                    continue;
                }
                FilterResult r;
                try {
                    r = filters[i].onResponseBody(rc, chunk);
                } catch (RuntimeException e) {
                    log.warn("stage {} failed on the response body of {}", filters[i].name(), rc, e);
                    r = null;
                }
                if (r != FilterResult.CONTINUE) {
                    // the head is on its way: the only honest end is a reset
                    Rejection why = r instanceof FilterResult.Reply reply ? reply.rejection()
                            : new Rejection(Rejection.Reason.INTERNAL, "stage " + filters[i].name() + " failed");
                    log.info("stage {} ended the response of {} mid-body: {}", filters[i].name(), rc, why);
                    reset(why.reason().flag(), why.reason().code(), RequestOutcome.End.UPSTREAM_RESET);
                    return null;
                }
            }
            if (trailers != null && !trailers.isEmpty()) {
                NettyHeaders view = new NettyHeaders(trailers);
                for (int i = Math.min(filters.length, 16) - 1; i >= 0; i--) {
                    if ((responseBodyFilters & (1 << i)) != 0) {
                        try {
                            filters[i].onResponseTrailers(rc, view);
                        } catch (RuntimeException e) {
                            log.warn("stage {} failed on the response trailers of {}", filters[i].name(), rc, e);
                        }
                    }
                }
            }
            return rebuilt(chunk, trailers);
        }

        // --- endings ---

        /** Answers from here, in this request's turn. The rest of its body is read and dropped. */
        private void reply(Rejection r, Map<String, String> headers) {
            if (responseStarted) {
                reset(r.reason().flag(), r.reason().code(), RequestOutcome.End.UPSTREAM_RESET);
                return;
            }
            abandonUpstream();
            discarding = true;
            localReply = true;
            FullHttpResponse res = LocalReplies.http(r, headers, grpc, ctx.alloc());
            if (!h2 && (!keepAlive || ending || closeAfter)) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            responseStarted = true;
            outcome.status(res.status().code());
            outcome.flags(r.reason().flag(), r.reason().code());
            grpcStatus(res.headers());
            outcome.responseStarted(ticker.getAsLong());
            respondFilters(res.status().code(), res);
            outcome.addResponseBytes(res.content().readableBytes());
            log.debug("local reply for {}: {}", rc, r);
            ctx.writeAndFlush(res);
            responseDone = true;
            maybeFinish();
            if (!finished && this == current) {
                maybeRead(); // the rest of the body is read and dropped: reads may have stopped for the upstream
            }
        }

        private void respondFilters(int status, HttpResponse res) {
            HttpFilter[] filters = chain.filters();
            if (ran == 0) {
                return;
            }
            NettyHeaders view = new NettyHeaders(res.headers());
            for (int i = ran - 1; i >= 0; i--) {
                try {
                    filters[i].onResponse(rc, status, view);
                } catch (RuntimeException e) {
                    log.warn("stage {} failed on the response of {}", filters[i].name(), rc, e);
                }
            }
        }

        /** The client's stream is reset: the only honest end once a response has started. */
        private void reset(String flag, String reason, RequestOutcome.End end) {
            abandonUpstream();
            outcome.flags(flag, reason);
            finish(end);
            closed = true;
            ctx.close();
        }

        private void maybeFinish() {
            if (finished || !responseDone) {
                return;
            }
            if (!requestDone) {
                if (!h2) {
                    return; // HTTP/1.1: the rest of the body is still read (forwarded, or dropped after a local reply)
                }
                // RFC 9113 §8.1: after a complete response the server may ask the client to stop
                // sending the request with RST_STREAM(NO_ERROR)
                requestDone = true;
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
            }
            finish(localReply ? RequestOutcome.End.LOCAL_REPLY : RequestOutcome.End.RESPONSE);
            next(keepAlive && !closeAfter);
        }

        /** Client gone (reset, tunnel closed) before the exchange completed. */
        void clientGone() {
            if (finished) {
                return;
            }
            abandonUpstream();
            outcome.flags("DC", "downstream_remote_disconnect");
            finish(RequestOutcome.End.DOWNSTREAM_RESET);
        }

        private void finish(RequestOutcome.End end) {
            finished = true;
            if (!outcome.close(end, ticker.getAsLong())) {
                return;
            }
            HttpFilter[] filters = chain.filters();
            for (int i = filters.length - 1; i >= 0; i--) {
                try {
                    filters[i].onComplete(rc);
                } catch (RuntimeException e) {
                    log.warn("stage {} failed completing {}", filters[i].name(), rc, e);
                }
            }
            if (log.isDebugEnabled()) {
                log.debug("{}: {}", rc, outcome);
            }
        }

        /** The upstream side is no longer wanted: cancel the call, release what it never got. */
        private void abandonUpstream() {
            if (call != null) {
                call.cancel();
                call = null;
            }
            if (head != null) {
                ReferenceCountUtil.release(head);
                head = null;
            }
            releasePending();
        }

        private void releasePending() {
            if (pending != null) {
                while (!pending.isEmpty()) {
                    pending.poll().release();
                }
            }
        }
    }

    /** The piece that goes on after the filters: null for an empty piece that is not the last. */
    private static HttpContent rebuilt(BodyChunk chunk, HttpHeaders trailers) {
        byte[] b = chunk.bytes();
        if (trailers != null) {
            return new DefaultLastHttpContent(b.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(b), trailers);
        }
        return b.length == 0 ? null : new DefaultHttpContent(Unpooled.wrappedBuffer(b));
    }

    private static boolean mayHaveBody(HttpResponseStatus status) {
        int c = status.code();
        return c >= 200 && c != 204 && c != 304;
    }

    /**
     * The rules of an HTTP/1 request head the decoder does not check (RFC 9112 §3.2, RFC 9110
     * §15.6.6), or null when it keeps them: a major version other than 1 is 505; a request-target
     * with a byte that is not a URI character (a control byte, DEL, raw non-ASCII) is 400; an HTTP/1.1
     * request without {@code Host} (whose target is not in absolute form, which carries the host),
     * or any request with more than one {@code Host} field line, is 400: forwarding either would
     * leave the backend, the routes and the {@code hosts} policies to guess which host is meant.
     */
    static Rejection http1Head(HttpRequest head) {
        HttpVersion v = head.protocolVersion();
        if (v.majorVersion() != 1 || v.minorVersion() > 1) {
            return new Rejection(Rejection.Reason.VERSION_NOT_SUPPORTED, "version: " + v.text()
                    + " (expected: HTTP/1.1 or HTTP/1.0)");
        }
        String target = head.uri();
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                // not a URI character (RFC 3986 §2; RFC 9112 §3.2): a control byte, or a raw non-ASCII
                // one, which would leave re-encoded as UTF-8 (the backend saw another path than authz)
                return new Rejection(Rejection.Reason.BAD_REQUEST, String.format(
                        "request-target: byte 0x%02x at %d (expected: URI characters, non-ASCII ones percent-encoded)",
                        (int) c, i));
            }
        }
        java.util.Iterator<String> hosts = head.headers().valueStringIterator(HttpHeaderNames.HOST);
        boolean any = hosts.hasNext();
        if (any) {
            hosts.next();
            if (hosts.hasNext()) {
                return new Rejection(Rejection.Reason.BAD_REQUEST, "host: " + head.headers().getAll(HttpHeaderNames.HOST).size()
                        + " Host header fields (expected: exactly one, RFC 9112 §3.2)");
            }
        }
        if (!any && v.minorVersion() == 1 && !head.uri().contains("://")) {
            return new Rejection(Rejection.Reason.BAD_REQUEST, "host: missing (expected: a Host header field in an "
                    + "HTTP/1.1 request, RFC 9112 §3.2)");
        }
        return null;
    }

    /** 414 for an over-long request line, 431 for an over-large header block, 400 for the rest. */
    static Rejection malformed(Throwable cause) {
        String msg = cause == null || cause.getMessage() == null ? "malformed request" : cause.getMessage();
        if (cause instanceof TooLongHttpLineException) {
            return new Rejection(Rejection.Reason.URI_TOO_LONG, msg);
        }
        if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
            return new Rejection(Rejection.Reason.HEADERS_TOO_LARGE, msg);
        }
        return new Rejection(Rejection.Reason.BAD_REQUEST, msg);
    }
}
