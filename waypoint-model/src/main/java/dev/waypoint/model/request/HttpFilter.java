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
     * The request is over: {@link RequestContext#outcome()} is closed. Called exactly once per
     * request on every filter of the list, in reverse list order, including filters whose
     * {@link #onRequest} never ran (the request was answered before it reached them, or was
     * malformed): telemetry renders every outcome from here.
     */
    default void onComplete(RequestContext request) {}
}
