package dev.waypoint.lb;

import dev.waypoint.model.request.PathRewrite;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.AttemptObserver;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.transport.ExchangeSink;
import dev.waypoint.transport.HeldBytes;
import dev.waypoint.transport.WebSocketUpgrade;
import dev.waypoint.transport.UpstreamCall;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream stage for one request: a controller over attempts. Pick an endpoint, run one
 * {@link Attempt} (an exchange channel from {@link HttpUpstreamPool}: request head and body out,
 * response in), and on a failure the route's {@link RetryPolicy} allows, pick again (another
 * endpoint where there is one) and replay the request.
 *
 * <p><b>Replay.</b> While a retry is still possible, every body piece forwarded is also kept (a
 * retained duplicate) up to {@link #REPLAY_LIMIT} bytes; past that the kept pieces are released
 * and no retry happens, as Envoy's {@code per_request_buffer_limit}. Nothing is kept once the
 * response has started (it can no longer be retried) or when the policy allows no retry.
 *
 * <p><b>Timeouts.</b> The route's request timeout runs from the start to the end of the
 * response: 504 {@code upstream_request_timeout} before a response, a reset after. A per-try
 * timeout ends one attempt (retried as a reset would be).
 *
 * <p><b>What it does not do:</b> anything toward the client. The {@link ExchangeSink} (the
 * listener's exchange handler) owns ordering, keep-alive, local replies and the outcome.
 *
 * <h2>Reference counting</h2>
 * The head and body pieces handed in are written to the attempt (ownership moves) or released
 * when the request ends; kept duplicates are released at the latest when the request ends.
 * Response objects go to the sink, or are released when they belong to an abandoned attempt.
 *
 * <h2>Threading</h2>
 * The request's event loop; exchange channels are opened on it.
 */
final class UpstreamRequest implements UpstreamCall {
    private static final Logger log = LoggerFactory.getLogger(UpstreamRequest.class);
    /** Request body bytes kept for a replay at most (Envoy's default per-request buffer limit is 1 MiB; Istio's retries rarely need more than a small body). */
    static final int REPLAY_LIMIT = 64 << 10;
    private static final List<CharSequence> HOP_BY_HOP = List.of(HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
            HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.UPGRADE, HttpHeaderNames.PROXY_AUTHENTICATE,
            HttpHeaderNames.PROXY_AUTHORIZATION);
    /** Fields a {@code Connection} nomination does not remove ({@link #stripConnectionHeaders}). */
    private static final java.util.Set<String> FRAMING_AND_TARGET = java.util.Set.of("content-length", "transfer-encoding", "host");
    private static final CharSequence STREAM_ID = HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text();
    private static final CharSequence SCHEME = HttpConversionUtil.ExtensionHeaderNames.SCHEME.text();
    private static final CharSequence PATH = HttpConversionUtil.ExtensionHeaderNames.PATH.text();
    /** Envoy's attempt counter header ({@code include_request_attempt_count}). */
    static final String ATTEMPT_COUNT = "x-envoy-attempt-count";
    private static final CharSequence GRPC_STATUS = "grpc-status";

    private final Upstreams upstreams;
    private final ExchangeChannels pool;
    private final RequestContext request;
    private final EventLoop loop;
    private final ExchangeSink sink;
    private final RouteSelection route;
    private final RouteSelection.Backend backend;
    private final RetryPolicy retry;
    private final boolean upstreamH2;
    /** The client's {@code Upgrade} value when this is a WebSocket upgrade going upstream over HTTP/1.1; else null. */
    private final String upgrade;
    /** The attempt whose {@code 101} switched its connection to a byte stream, until {@link #takeUpgraded}. */
    private Attempt upgraded;

    private HttpRequest head;
    /** The Host as sent upstream (after any rewrite), for TLS origination's server name; kept past the head's hand-off. */
    private final String host;
    /** Body pieces kept for a replay; null when no replay is possible (any more). */
    private List<HttpContent> kept;
    private int keptBytes;
    private int retriesLeft;
    private List<Endpoint> tried;
    private Attempt attempt;
    private boolean requestDone;
    private boolean responseStarted;
    private boolean over;
    private ScheduledFuture<?> requestTimer;
    /** Fire-and-forget copies (RequestMirror); null when none. */
    private List<UpstreamMirror> mirrors;
    /** The connectionPool slot this request holds (see {@link Upstreams#admit}), until it ends. */
    private java.util.concurrent.atomic.AtomicInteger admitted;
    /** The maxRetries slot the current attempt holds when it is a retry (see {@link Upstreams#retrySlot}). */
    private java.util.concurrent.atomic.AtomicInteger retrySlot;

    UpstreamRequest(Upstreams upstreams, ExchangeChannels pool, RequestContext request, HttpRequest head,
                    boolean h2Downstream, EventLoop loop, ExchangeSink sink) {
        this.upstreams = upstreams;
        this.pool = pool;
        this.request = request;
        this.loop = loop;
        this.sink = sink;
        // the route stage decided (and labelled the outcome); without one there is nowhere to go
        this.route = request.get(RouteSelection.KEY);
        this.backend = route != null ? route.backend() : null;
        this.retry = route != null ? route.retry() : RetryPolicy.NONE;
        this.retriesLeft = retry.retries();
        // the backend's declared protocol, whatever the client spoke, or its DestinationRule's
        // h2UpgradePolicy / useClientProtocol, or the MeshConfig's h2UpgradePolicy (UpstreamProtocol)
        this.upstreamH2 = backend != null ? UpstreamProtocol.h2(backend, request.target(), h2Downstream,
                Upstreams.poolOf(request.snapshot(), backend), !h2Downstream && WebSocketUpgrade.requested(head),
                request.snapshot().resources().meshConfig().h2Upgrade())
                : h2Downstream || request.target().protocol().isH2();
        // a WebSocket upgrade keeps Upgrade/Connection on an HTTP/1.1 upstream; toward h2c it is an
        // ordinary request (no extended CONNECT upstream): the backend answers it as one
        this.upgrade = !h2Downstream && !upstreamH2 && WebSocketUpgrade.requested(head)
                ? head.headers().get(HttpHeaderNames.UPGRADE) : null;
        sanitizeRequest(head.headers(), upstreamH2);
        PathRewrite rewrite = request.get(PathRewrite.KEY); // an HTTPRoute URLRewrite: the request line is not a header
        if (rewrite != null) {
            head.setUri(rewrite.path());
        }
        if (!upstreamH2) {
            head.setProtocolVersion(HttpVersion.HTTP_1_1);
        }
        this.head = head;
        this.host = head.headers().get(HttpHeaderNames.HOST);
        this.requestDone = head instanceof LastHttpContent;
        if (route != null && !route.mirrors().isEmpty()) {
            // copies of the request as it goes upstream, taken before the first attempt owns the head
            mirrors = new ArrayList<>(route.mirrors().size());
            for (RouteSelection.Backend m : route.mirrors()) {
                mirrors.add(new UpstreamMirror(upstreams, pool, request, loop, m, head, h2Downstream));
            }
        }
        if (upgrade != null) {
            WebSocketUpgrade.restore(head.headers(), upgrade); // after the mirrors' copies: mirrors get a plain GET
        }
        if (retriesLeft > 0) {
            kept = new ArrayList<>(2);
        }
        if (route != null && route.timeout() != null && !route.timeout().isZero()) {
            requestTimer = loop.schedule(() -> timedOut(null), route.timeout().toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** Starts the first attempt (and the mirrors of a request whose head carried it all). */
    void start() {
        if (route == null) {
            fail(new Rejection(Rejection.Reason.INTERNAL, "no route was decided for this request (the route stage must run first)"));
            return;
        }
        // DestinationRule connectionPool: one slot per request, retries included, given back when it ends
        admitted = upstreams.admit(request.snapshot(), backend, upstreamH2);
        if (admitted == null) {
            fail(new Rejection(Rejection.Reason.UPSTREAM_OVERFLOW, "the DestinationRule connectionPool limit of the "
                    + "backend's requests in flight is reached"));
            return;
        }
        newAttempt();
        if (mirrors != null) {
            mirrors.forEach(UpstreamMirror::start);
        }
    }

    private void newAttempt() {
        UpstreamPick pick = upstreams.pick(request.snapshot(), backend, request, tried);
        if (pick instanceof UpstreamPick.Unavailable u) {
            fail(u.rejection());
            return;
        }
        Endpoint endpoint = (Endpoint) pick;
        if (tried == null) {
            tried = new ArrayList<>(2);
        }
        tried.add(endpoint);
        request.outcome().attempt(endpoint.address().authority(), endpoint.pod(), endpoint.identity());
        Attempt a = new Attempt(endpoint);
        attempt = a;
        // what this attempt must send: the head and every body piece so far
        boolean replay = kept != null;
        HttpRequest attemptHead = replay ? duplicate(head) : head;
        AttemptObserver observer = request.get(AttemptObserver.KEY);
        if (observer != null) {
            // tracing: this attempt's client span, its context in this attempt's headers
            a.observer = observer;
            a.index = tried.size();
            observer.started(a.index, endpoint.address().authority(), attemptHead.headers()::set);
        }
        if (upstreams.attemptCountHeader()) {
            // Envoy: "the value of this header is the number of times the request has been attempted" (1 = first try)
            attemptHead.headers().set(ATTEMPT_COUNT, tried.size());
        }
        a.send(attemptHead);
        if (!replay) {
            head = null;
        } else {
            for (HttpContent c : kept) {
                a.send(c.retainedDuplicate());
            }
        }
        a.acquire();
        if (tried.size() > 1) {
            a.flush(); // a retry starts outside the client's read burst: nothing else flushes it
        }
    }

    /**
     * The next try after a failed one: at once, or after the route's backoff ({@link RetryBackoff}).
     * While it waits, the request body keeps being kept for the replay but does not flow (the
     * finished attempt is not writable); the request timeout still runs, a cancel ends the wait.
     */
    private void nextTry() {
        retriesLeft--;
        if (retry.backoff() == null) {
            newAttempt();
            return;
        }
        long ms = RetryBackoff.delayMillis(retry.backoff(), retry.retries() - retriesLeft, jitter.getAsLong());
        backoffTimer = loop.schedule(() -> {
            backoffTimer = null;
            if (!over) {
                newAttempt();
            }
        }, ms, TimeUnit.MILLISECONDS);
    }

    /** Random draws for the backoff jitter; tests fix them. */
    private java.util.function.LongSupplier jitter = () -> java.util.concurrent.ThreadLocalRandom.current().nextLong();
    private ScheduledFuture<?> backoffTimer;

    /** Tests: the random draws of the backoff jitter. */
    UpstreamRequest jitter(java.util.function.LongSupplier draws) {
        this.jitter = draws;
        return this;
    }

    private static HttpRequest duplicate(HttpRequest head) {
        return head instanceof FullHttpRequest full ? full.retainedDuplicate() : head;
    }

    // --- UpstreamCall: what the exchange handler drives ---

    @Override
    public void requestContent(HttpContent content) {
        if (over) {
            content.release();
            return;
        }
        if (content instanceof LastHttpContent) {
            requestDone = true;
        }
        if (mirrors != null) {
            for (UpstreamMirror m : mirrors) {
                m.content(content); // a retained duplicate, before the attempt owns the piece
            }
        }
        if (kept != null) {
            keptBytes += content.content().readableBytes();
            if (keptBytes > REPLAY_LIMIT) {
                dropKept(); // too big to replay: this attempt is the last
            } else {
                kept.add(content.retainedDuplicate());
            }
        }
        attempt.send(content);
        if (requestDone) {
            attempt.maybeDone();
        }
    }

    @Override
    public void flushRequest() {
        if (!over) {
            attempt.flush();
        }
    }

    @Override
    public boolean isRequestWritable() {
        // once over, what still comes is dropped at once: let it flow
        return over || attempt.writable();
    }

    @Override
    public void responseWritable() {
        if (!over) {
            attempt.read();
        }
    }

    @Override
    public Channel takeUpgraded() {
        Attempt a = upgraded;
        upgraded = null;
        if (a == null) {
            return null;
        }
        releaseHeld();
        return a.upgradedChannel;
    }

    @Override
    public void cancel() {
        if (over) {
            return;
        }
        releaseHeld();
        if (upgraded != null) {
            upgraded.upgradedChannel.close(); // switched to a byte stream, then nobody took it
            upgraded = null;
        }
        if (attempt != null) {
            attempt.abandon(EndpointStates.AttemptResult.CANCELLED);
        }
    }

    // --- endings ---

    /** The request is over for the upstream stage: timers off, the kept head and body released, its pool slot given back. */
    private void releaseHeld() {
        over = true;
        if (mirrors != null) {
            mirrors.forEach(UpstreamMirror::requestEnded); // those still waiting for body are dropped
        }
        if (admitted != null) {
            if (admitted != Upstreams.UNLIMITED) {
                admitted.decrementAndGet();
            }
            admitted = null;
        }
        releaseRetrySlot();
        if (requestTimer != null) {
            requestTimer.cancel(false);
        }
        if (backoffTimer != null) {
            backoffTimer.cancel(false);
            backoffTimer = null;
        }
        dropKept();
        if (head != null) {
            ReferenceCountUtil.release(head);
            head = null;
        }
    }

    private void dropKept() {
        if (kept != null) {
            kept.forEach(HttpContent::release);
            kept = null;
        }
    }

    private void fail(Rejection r) {
        if (over) {
            return;
        }
        releaseHeld();
        sink.failed(r);
    }

    private void timedOut(Attempt perTry) {
        if (over || perTry != null && perTry != attempt) {
            return;
        }
        if (perTry != null) {
            perTry.failed(new Rejection(Rejection.Reason.REQUEST_TIMEOUT, "per-try timeout after "
                    + retry.perTryTimeout().toMillis() + " ms to " + perTry.endpoint), true);
            return;
        }
        log.info("request timeout for {}", request);
        if (attempt != null) {
            attempt.abandon(EndpointStates.AttemptResult.CANCELLED);
        }
        fail(new Rejection(Rejection.Reason.REQUEST_TIMEOUT, "no complete response within the route timeout"));
    }

    /**
     * Whether a failure of the current attempt is tried again: the policy allows this kind
     * ({@code allowed}), retries are left, the client saw no response yet and the body seen so
     * far is still kept for a replay.
     */
    private boolean mayRetry(boolean allowed) {
        if (!(allowed && !over && !responseStarted && retriesLeft > 0 && kept != null)) {
            return false;
        }
        // connectionPool.http.maxRetries: retries in flight to the Service port; the failed attempt's slot
        // (when it was a retry) is given back first, and a spent budget means no retry (Envoy's retry overflow)
        releaseRetrySlot();
        retrySlot = upstreams.retrySlot(request.snapshot(), backend);
        if (retrySlot == null) {
            log.debug("no retry for {}: the maxRetries budget of {} is spent", request, backend);
            return false;
        }
        return true;
    }

    private void releaseRetrySlot() {
        if (retrySlot != null && retrySlot != Upstreams.UNLIMITED) {
            retrySlot.decrementAndGet();
        }
        retrySlot = null;
    }

    /**
     * One attempt: one exchange channel to one endpoint. Also the pool's owner of that channel
     * while the attempt holds it.
     */
    private final class Attempt implements HttpUpstreamPool.Owner {
        final Endpoint endpoint;
        /** The request's attempt observer (tracing), or null; and this attempt's number (1 for the first). */
        AttemptObserver observer;
        int index;
        final EndpointStates.State state;
        private Channel up;
        private ArrayDeque<HttpObject> unsent = new ArrayDeque<>(4);
        private boolean requestSent;
        private boolean responseDone;
        private boolean reusable;
        private boolean finished;
        private ScheduledFuture<?> perTryTimer;

        Attempt(Endpoint endpoint) {
            this.endpoint = endpoint;
            this.state = upstreams.states().of(endpoint);
            upstreams.states().started(state);
            if (retry.perTryTimeout() != null && !retry.perTryTimeout().isZero()) {
                perTryTimer = loop.schedule(() -> timedOut(this), retry.perTryTimeout().toNanos(), TimeUnit.NANOSECONDS);
            }
        }

        void acquire() {
            Future<Channel> f = pool.acquire(endpoint, upstreamH2, request.tunnel(), loop, this,
                    upstreams.connectionOptions(request.snapshot(), backend, host));
            if (f.isDone()) {
                onChannel(f, false); // pooled: the exchange handler's read-complete flushes head and body together
            } else {
                f.addListener(done -> onChannel(f, true));
            }
        }

        private void onChannel(Future<Channel> f, boolean flush) {
            if (!f.isSuccess()) {
                if (!finished) {
                    failed(RejectedException.of(f.cause(), Rejection.Reason.UPSTREAM_REFUSED), false);
                }
                return;
            }
            Channel ch = f.getNow();
            if (finished) {
                pool.release(ch, endpoint, upstreamH2, Release.END); // unused: nothing was sent on it
                return;
            }
            up = ch;
            while (!unsent.isEmpty()) {
                up.write(unsent.poll(), up.voidPromise());
            }
            unsent = null;
            if (flush) {
                up.flush();
            }
            if (sink.isWritable()) {
                up.read();
            }
            if (!requestDone) {
                sink.requestWritable(); // the body may flow now
            }
        }

        void send(HttpObject msg) {
            if (finished) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof LastHttpContent) {
                requestSent = true;
            }
            if (up == null) {
                unsent.add(msg);
            } else {
                up.write(msg, up.voidPromise());
            }
        }

        void flush() {
            if (up != null) {
                up.flush();
            }
        }

        boolean writable() {
            return up != null && up.isWritable();
        }

        void read() {
            if (up != null && !responseDone) {
                up.read();
            }
        }

        // --- HttpUpstreamPool.Owner ---

        @Override
        public void upstreamRead(Object msg) {
            if (finished || over || this != attempt) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpObject http && http.decoderResult().isFailure()) {
                // a malformed response, or one cut short (PrematureChannelClosureException)
                ReferenceCountUtil.release(msg);
                // cut short by a close: a reset (UC); anything else the codec refused: a protocol error (502 UPE)
                Throwable cause = http.decoderResult().cause();
                boolean cut = cause instanceof io.netty.handler.codec.PrematureChannelClosureException;
                failed(new Rejection(cut ? Rejection.Reason.UPSTREAM_RESET : Rejection.Reason.UPSTREAM_PROTOCOL_ERROR,
                        "upstream " + endpoint + " sent a " + (cut ? "truncated" : "malformed") + " response: "
                        + cause.getMessage()), false);
                return;
            }
            if (msg instanceof HttpResponse res) {
                if (res.status().codeClass() == HttpStatusClass.INFORMATIONAL && res.status().code() != 101) {
                    sanitizeResponse(res.headers());
                    sink.responseHead(res);
                    return;
                }
                if (requestSent && mayRetry(retry.retriable(res.status().code()) || retriableGrpc(res))) {
                    ReferenceCountUtil.release(res);
                    log.debug("retrying {} after a {} from {}", request, res.status().code(), endpoint);
                    abandon(EndpointStates.AttemptResult.ofStatus(res.status().code()));
                    nextTry();
                    return;
                }
                if (upgrade != null && res.status().code() == 101) {
                    switching(res);
                    return;
                }
                responseStarted = true;
                dropKept(); // no retry once the client saw a response
                // a connection that carried an upgrade request is not reused, whatever the answer
                reusable = upgrade == null && HttpUtil.isKeepAlive(res);
                sanitizeResponse(res.headers());
                status = res.status().code();
                String cookie = request.get(Balancers.SET_COOKIE); // a consistent-hash cookie made up for this request
                if (cookie != null) {
                    res.headers().add(HttpHeaderNames.SET_COOKIE, cookie);
                }
                if (res instanceof LastHttpContent) {
                    responseEnded(); // back to the pool first: the sink may start the next request
                }
                sink.responseHead(res);
                return;
            }
            if (msg instanceof HttpContent c) {
                if (!responseStarted) {
                    c.release();
                    return;
                }
                if (c instanceof LastHttpContent) {
                    if (status == 101) {
                        detachUpgraded(); // a byte stream before the sink asks for it (takeUpgraded)
                    } else {
                        responseEnded(); // back to the pool first: the sink may start the next request
                    }
                }
                sink.responseContent(c);
                return;
            }
            ReferenceCountUtil.release(msg);
        }

        /**
         * A {@code 101} to the WebSocket upgrade: the client sees it as the final response (no
         * retry, no timeout from now on: the tunnel's idle timeout governs the WebSocket), and
         * the connection leaves HTTP when the response's (empty) last piece arrives.
         */
        private void switching(HttpResponse res) {
            responseStarted = true;
            dropKept();
            cancelPerTry();
            if (requestTimer != null) {
                requestTimer.cancel(false);
            }
            status = 101;
            reusable = false;
            sanitizeResponse(res.headers());
            WebSocketUpgrade.restore(res.headers(), res.headers().get(HttpHeaderNames.UPGRADE, upgrade));
            sink.responseHead(res);
        }

        /**
         * Takes the connection out of HTTP, as Netty's {@code HttpClientUpgradeHandler} does: the
         * tail handler becomes a {@link HeldBytes} (bytes the backend sent past the {@code 101},
         * which the decoder hands on as they are, wait there), then the codec goes. The attempt
         * is finished; the connection is never pooled again.
         */
        private void detachUpgraded() {
            responseDone = true;
            finished = true;
            cancelPerTry();
            Channel ch = up;
            up = null;
            if (ch == null) {
                return;
            }
            ch.pipeline().remove(HttpUpstreamPool.UpstreamTail.class).owner = null;
            HeldBytes.install(ch);
            if (ch.pipeline().get(HttpUpstreamPool.H1) != null) {
                ch.pipeline().remove(HttpUpstreamPool.H1);
            }
            if (ch.pipeline().get(HttpUpstreamPool.IDLE) != null) {
                // the pool's idle timer is for idle keep-alive connections; a WebSocket lives by the
                // tunnel's idle timeout (the relay resets this end when the tunnel goes)
                ch.pipeline().remove(HttpUpstreamPool.IDLE);
            }
            upgraded = this;
            upgradedChannel = ch;
            EndpointStates.State s = state;
            // the endpoint's attempt lasts as long as the WebSocket does (least-request counts it)
            ch.closeFuture().addListener(f -> upstreams.states().ended(s, EndpointStates.AttemptResult.RESPONSE));
        }

        private Channel upgradedChannel;

        private int status;

        private void responseEnded() {
            responseDone = true;
            maybeDone();
        }

        /** Both directions complete: the connection goes back to the pool. */
        void maybeDone() {
            if (finished || !responseDone || !requestDone || !requestSent) {
                return;
            }
            finished = true;
            cancelPerTry();
            releaseHeld();
            Channel ch = up;
            up = null;
            if (ch != null) {
                pool.release(ch, endpoint, upstreamH2, Release.completed(reusable));
            }
            ended(EndpointStates.AttemptResult.ofStatus(status));
        }

        @Override
        public void upstreamReadComplete() {
            if (finished || this != attempt) {
                return;
            }
            sink.responseFlush();
            if (up != null && !responseDone && sink.isWritable()) {
                up.read();
            }
        }

        @Override
        public void upstreamWritable() {
            if (!finished && this == attempt && !requestDone) {
                sink.requestWritable();
            }
        }

        /**
         * The upstream closed, or ended its side (FIN / END_STREAM): either way this connection
         * carries nothing more; a half-closed one is closed here.
         */
        @Override
        public void upstreamClosed() {
            if (finished) {
                return;
            }
            reusable = false;
            Channel ch = up;
            up = null;
            if (ch != null) {
                ch.close();
            }
            if (responseDone) {
                // it answered completely, then closed: the rest of the request body (if any) is dropped
                finished = true;
                cancelPerTry();
                releaseHeld();
                ended(EndpointStates.AttemptResult.RESPONSE);
                return;
            }
            failed(new Rejection(Rejection.Reason.UPSTREAM_RESET, "upstream " + endpoint
                    + (responseStarted ? " closed in the middle of the response" : " closed the connection before responding")),
                    false);
        }

        @Override
        public void upstreamRefused() {
            if (finished || responseStarted) {
                upstreamClosed();
                return;
            }
            reusable = false;
            Channel ch = up;
            up = null;
            if (ch != null) {
                ch.close();
            }
            // refused-stream: "the request was not processed" (RFC 9113 §8.7), safe to try again
            failed(new Rejection(Rejection.Reason.UPSTREAM_RESET, "upstream " + endpoint + " refused the stream"), false, true);
        }

        /** This attempt failed: retry if allowed, else tell the sink. */
        void failed(Rejection r, boolean timeout) {
            failed(r, timeout, false);
        }

        private void failed(Rejection r, boolean timeout, boolean refused) {
            boolean connectFailure = up == null && r.reason() != Rejection.Reason.UPSTREAM_RESET
                    && r.reason() != Rejection.Reason.UPSTREAM_PROTOCOL_ERROR && !timeout && !refused;
            abandon(EndpointStates.AttemptResult.CONNECT_FAILURE);
            // a per-try timeout is retried like a reset ("reset" covers it in Envoy's retry_on)
            boolean allowed = connectFailure ? retry.connectFailure() : refused ? retry.refusedStream() : retry.reset();
            if (mayRetry(allowed)) {
                log.debug("retrying {} after {}", request, r);
                nextTry();
                return;
            }
            log.info("request {} via {} failed: {}", request, endpoint, r);
            fail(r);
        }

        /** Gives the channel up without reuse and releases what was not sent. */
        void abandon(EndpointStates.AttemptResult result) {
            if (finished) {
                return;
            }
            finished = true;
            cancelPerTry();
            if (unsent != null) {
                while (!unsent.isEmpty()) {
                    ReferenceCountUtil.release(unsent.poll());
                }
            }
            Channel ch = up;
            up = null;
            if (ch != null) {
                pool.release(ch, endpoint, upstreamH2, Release.ABANDON);
            }
            ended(result);
        }

        /** The one end of this attempt: endpoint state, and the attempt observer (tracing). */
        private void ended(EndpointStates.AttemptResult result) {
            upstreams.states().ended(state, result);
            if (observer != null) {
                observer.ended(index, result == EndpointStates.AttemptResult.RESPONSE
                        || result == EndpointStates.AttemptResult.SERVER_ERROR
                        || result == EndpointStates.AttemptResult.GATEWAY_ERROR ? status : 0);
            }
        }

        private void cancelPerTry() {
            if (perTryTimer != null) {
                perTryTimer.cancel(false);
            }
        }
    }

    /**
     * Envoy's {@code unavailable} / {@code cancelled}: the gRPC status of a trailers-only response
     * (the only kind whose status is in the head) is one the policy retries.
     */
    private boolean retriableGrpc(HttpResponse res) {
        if (retry.retriableGrpcStatuses().isEmpty()) {
            return false;
        }
        String status = res.headers().get(GRPC_STATUS);
        if (status == null || status.length() > 2) {
            return false;
        }
        try {
            return retry.retriableGrpc(Integer.parseInt(status));
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** Hop-by-hop headers are per connection (RFC 9110 §7.6.1); codec bookkeeping headers too. */
    static void sanitizeRequest(HttpHeaders h, boolean h2Up) {
        stripConnectionHeaders(h);
        h.remove(STREAM_ID);
        h.remove(PATH);
        if (!h2Up) {
            h.remove(SCHEME);
            String te = h.get(HttpHeaderNames.TE);
            if (te != null && !te.equalsIgnoreCase("trailers")) {
                h.remove(HttpHeaderNames.TE);
            }
        }
    }

    static void sanitizeResponse(HttpHeaders h) {
        stripConnectionHeaders(h);
        h.remove(STREAM_ID);
        h.remove(SCHEME);
        h.remove(PATH);
    }

    /**
     * Removes the hop-by-hop fields: the fixed ones and those the {@code Connection} header
     * nominates, except the message's framing and its target ({@code Content-Length},
     * {@code Transfer-Encoding}, {@code Host}). A sender must not nominate those (RFC 9110 §7.6.1:
     * not for fields "intended for all recipients"); removing them anyway would send the body
     * unframed on a pooled connection, where the next client's request would be read as its end
     * (request smuggling), or send a request without a Host. The nomination is ignored for them,
     * as nginx ignores nominations altogether.
     */
    private static void stripConnectionHeaders(HttpHeaders h) {
        for (String listed : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : listed.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !t.equalsIgnoreCase("close") && !t.equalsIgnoreCase("keep-alive")
                        && !FRAMING_AND_TARGET.contains(t.toLowerCase(java.util.Locale.ROOT))) {
                    h.remove(t);
                }
            }
        }
        for (CharSequence name : HOP_BY_HOP) {
            h.remove(name);
        }
    }
}
