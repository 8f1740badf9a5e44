package dev.waypoint.model.request;

/**
 * One request stage (telemetry, authn, authz, wasm, route): plain Java over a
 * {@link RequestContext}, no Netty. The filters of a request run in the order of the list in
 * {@code InboundRequestPipeline}; then the upstream stage forwards the request.
 *
 * <p>Every method is called on the request's event loop and must not block it.
 */
public interface HttpFilter {
    /** The stage's name: the same string as in metric labels and log fields ({@code "authz"}). */
    String name();

    /**
     * Decides about the request head: {@link FilterResult#CONTINUE}, a local reply, or a pause.
     * Filters after one that replied do not run.
     */
    FilterResult onRequest(RequestContext request);

    /**
     * Sees (and may change) the response head before it goes to the client: the upstream's
     * response, or a local reply. Called in reverse list order, for the filters whose
     * {@link #onRequest} ran.
     */
    default void onResponse(RequestContext request, int status, HeadersView headers) {}

    /**
     * Whether this filter wants the request body through {@link #onRequestBody} (and trailers
     * through {@link #onRequestTrailers}). Asked once per request, after every filter's
     * {@link #onRequest} ran and before the request goes upstream, for the filters whose
     * {@code onRequest} ran. When no filter wants it (the usual case), the body is relayed as it
     * arrives: no copy, no buffering, no allocation. When one does, the forwarded request loses
     * its {@code content-length} (the body may change length) and HTTP/1.1 upstreams get it
     * chunked, as Envoy does for a body a filter may rewrite.
     */
    default boolean wantsRequestBody(RequestContext request) {
        return false;
    }

    /**
     * Sees (and may rewrite, or hold back) one piece of the request body, in list order, before it
     * goes upstream: {@link FilterResult#CONTINUE} (what {@code chunk} then holds goes on), or a
     * {@link FilterResult.Reply local reply} (the upstream request is cancelled; the rest of the
     * body is dropped). Called only when {@link #wantsRequestBody} said so.
     */
    default FilterResult onRequestBody(RequestContext request, BodyChunk chunk) {
        return FilterResult.CONTINUE;
    }

    /** The request's trailers (may be changed), after its last body piece; only when there are any. */
    default void onRequestTrailers(RequestContext request, HeadersView trailers) {}

    /**
     * As {@link #wantsRequestBody}, for the response body: asked after the response head passed
     * {@link #onResponse}. When one does, the response loses its {@code content-length} and an
     * HTTP/1.1 client gets it chunked.
     */
    default boolean wantsResponseBody(RequestContext request) {
        return false;
    }

    /**
     * Sees (and may rewrite, or hold back) one piece of the response body, in reverse list order,
     * before it goes to the client. The response head is already on its way, so a
     * {@link FilterResult.Reply} here resets the client's stream (Envoy does the same once the
     * head was sent).
     */
    default FilterResult onResponseBody(RequestContext request, BodyChunk chunk) {
        return FilterResult.CONTINUE;
    }

    /** The response's trailers (may be changed), after its last body piece; only when there are any. */
    default void onResponseTrailers(RequestContext request, HeadersView trailers) {}

    /**
     * The request is over: {@link RequestContext#outcome()} is closed. Called exactly once per
     * request on every filter of the list, in reverse list order, including filters whose
     * {@link #onRequest} never ran (the request was answered before it reached them, or was
     * malformed): telemetry renders every outcome from here.
     */
    default void onComplete(RequestContext request) {}
}
