package dev.waypoint.authz;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code authz} stage: evaluates the request's {@link AuthzEngine} (from the snapshot the
 * request pinned, for the target it addresses) and either continues or answers 403
 * {@code RBAC: access denied} (gRPC: {@code grpc-status 7}) through the one local-reply renderer.
 * Reads the {@link JwtAuthn} the authn stage wrote (if any); writes the decision to
 * {@link AuthzDecision#KEY}, the dry-run shadow decision to {@link AuthzDecision#SHADOW_KEY} and
 * the matching AUDIT policy to {@link AuthzDecision#AUDIT_KEY}, for telemetry.
 *
 * <p>Per request: one engine lookup, one input object, decisions built at compile time.
 */
public final class AuthzFilter implements HttpFilter {
    private static final Logger log = LoggerFactory.getLogger(AuthzFilter.class);

    /** Response header carrying the decision when {@code --debug-headers} is set. */
    public static final String DEBUG_HEADER = "x-waypoint-authz";

    private final boolean debugHeaders;

    /** @param debugHeaders add {@link #DEBUG_HEADER} to every response */
    public AuthzFilter(boolean debugHeaders) {
        this.debugHeaders = debugHeaders;
    }

    @Override
    public String name() {
        return "authz";
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        AuthzEngine engine = request.snapshot().part(AuthzTable.PART).engineFor(request.target());
        if (engine.isEmpty()) {
            request.set(AuthzDecision.KEY, AuthzEngine.ALLOW_NO_POLICY);
            return FilterResult.CONTINUE;
        }
        JwtAuthn jwt = request.get(JwtAuthn.KEY);
        AuthzDecision decision = engine.decide(request.attributes(), jwt);
        request.set(AuthzDecision.KEY, decision);
        if (engine.hasShadow()) {
            AuthzDecision shadow = engine.shadow(request.attributes(), jwt);
            request.set(AuthzDecision.SHADOW_KEY, shadow);
            log.debug("authz dry-run {}: {}", request, shadow.detail());
        }
        if (engine.hasAudit()) {
            String audited = engine.audited(request.attributes(), jwt);
            if (audited != null) {
                request.set(AuthzDecision.AUDIT_KEY, audited);
            }
        }
        log.debug("authz {}: {}", request, decision.detail());
        if (!decision.allowed()) {
            return FilterResult.reply(new Rejection(Rejection.Reason.RBAC_DENIED, decision.detail()));
        }
        return FilterResult.CONTINUE;
    }

    @Override
    public void onResponse(RequestContext request, int status, HeadersView headers) {
        if (!debugHeaders) {
            return;
        }
        AuthzDecision d = request.get(AuthzDecision.KEY);
        if (d != null) {
            AuthzDecision shadow = request.get(AuthzDecision.SHADOW_KEY);
            headers.set(DEBUG_HEADER, shadow == null ? d.detail() : d.detail() + "; dry-run " + shadow.detail());
        }
    }
}
