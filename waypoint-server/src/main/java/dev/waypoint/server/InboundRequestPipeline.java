package dev.waypoint.server;

import dev.waypoint.authz.AuthzFilter;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.authz.PathNormalizationFilter;
import dev.waypoint.lb.Upstreams;
import dev.waypoint.listener.RequestChain;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.routing.RouteFilter;
import dev.waypoint.wasm.WasmFilter;
import java.util.List;

/**
 * The data path on one screen. In front of these stages, per HBONE connection and tunnel:
 * {@code tls → h2 → mux → [CONNECT stream] connect (method, authority, target check, TCP
 * connect-first) → tunnel → idle → lifecycle → sniff}, then either {@code relay} (TCP) or the
 * inner codec ({@code h1}, or {@code h2c → [inner stream] h2-http}) and the one
 * {@code exchange} handler, which serializes HTTP/1.1 requests, pins the config snapshot per
 * request, builds its {@code RequestContext} and runs the list below over it.
 *
 * <p>Istio's order (STYLE.md, "The data path in one place"), filled in as the stages land:
 * {@code telemetry → wasm AUTHN → authn → wasm AUTHZ → authz → wasm STATS → route → upstream}.
 * A filter continues, pauses (and resumes) or answers through the one local-reply renderer;
 * filters after a reply do not run; response heads and the outcome pass back through the
 * filters that ran, in reverse order.
 */
final class InboundRequestPipeline {
    private InboundRequestPipeline() {}

    /** The filters every inner HTTP request runs through, then the upstream stage. */
    static RequestChain http(HttpFilter telemetry, HttpFilter authn, AuthzSettings authz, Upstreams upstreams) {
        // after every filter: endpoint pick, attempts (retries, timeouts), outbound HBONE
        return new RequestChain(filters(telemetry, authn, authz), upstreams.httpStage());
    }

    /** The filters, in data-path order (also what {@code waypoint explain} runs). */
    static List<HttpFilter> filters(HttpFilter telemetry, HttpFilter authn, AuthzSettings authz) {
        return List.of(
                // outermost: it must see every outcome, including the requests a later stage
                // answers or a malformed request nothing else saw (onComplete runs on every filter);
                // it reads the request only when the outcome closes
                telemetry,
                // "The normalized path is what policies see and what is forwarded", so no stage may
                // read the path before it (Envoy normalizes in the connection manager)
                PathNormalizationFilter.of(authz.pathNormalization()),
                // WasmPlugin phase AUTHN: "before Istio authentication filters" (after normalization,
                // which Envoy does in the connection manager, before any filter)
                WasmFilter.at(PluginPhase.AUTHN),
                // RequestAuthentication. Authorization reads the principal it writes
                // (JwtAuthn.KEY), so authn runs before authz; a bad token is answered 401 before any
                // policy or route sees the request; it may wait (retry) for a JWKS fetch
                authn,
                // WasmPlugin phase AUTHZ: after authentication, before authorization
                WasmFilter.at(PluginPhase.AUTHZ),
                // AuthorizationPolicy: after authn (it reads the JwtAuthn slot) and before the route,
                // so a denied request never reaches routing or an upstream (Istio: RBAC runs before
                // the router)
                new AuthzFilter(authz.debugHeaders()),
                // WasmPlugin phase STATS ("after authorization"), then the unspecified phase ("at the
                // end of the filter chain, right before the Router"); priority order inside each
                WasmFilter.at(PluginPhase.STATS),
                WasmFilter.at(PluginPhase.UNSPECIFIED),
                // last filter: the route decides the backend, so every policy stage before it sees
                // the request as the client sent it (Istio: authz runs before the router)
                new RouteFilter());
    }
}
