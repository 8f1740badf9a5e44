package dev.waypoint.authn;

import static java.util.Objects.requireNonNull;

import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code authn} stage: RequestAuthentication's JWT validation for the request's target, from
 * the snapshot the request pinned ({@link JwtRules#PART}).
 *
 * <ul>
 *   <li>No RequestAuthentication applies to the target: tokens are ignored entirely, nothing is
 *       written (shared/spec/authz.md §4).</li>
 *   <li>No token: continue without a principal; authorization decides.</li>
 *   <li>A valid token: {@link JwtAuthn#KEY} is written; the token header is removed unless the
 *       rule forwards it (query parameters and cookies stay, as in Envoy); the payload and claims
 *       are copied to the rule's output headers.</li>
 *   <li>An invalid token: 401 (403 for audiences) with Envoy's message as the body and
 *       {@code www-authenticate: Bearer realm="http://<host><path>", error="invalid_token"}.</li>
 *   <li>A token whose issuer's keys are still being fetched: the request waits
 *       ({@link FilterResult#retryWhen}), up to the rule's {@code timeout}, then is verified
 *       again, on its event loop: keys there → as above; still none → 401
 *       {@code Jwks remote fetch is failed}.</li>
 * </ul>
 *
 * <p>Before anything else, client-sent copies of the output headers of the applicable rules are
 * removed, so that only this stage can have written them (Envoy overwrites them for a valid token
 * but lets a client's copy through otherwise).
 *
 * <h2>Threading</h2>
 * {@link #onRequest} runs on the request's event loop and does not block: verification is CPU
 * only; waiting is a retry. The timeout is scheduled on the {@link JwksCache}'s thread.
 */
public final class AuthnFilter implements HttpFilter {
    /** The stage's name, in metrics and logs. */
    public static final String NAME = "authn";

    /** Set when a request started waiting for keys: the second ask must not wait again. */
    private static final RequestKey<Boolean> WAITED = RequestKey.of("authn.waitedForKeys", Boolean.class);

    private final Clock clock;
    private final JwksCache jwks;

    /** Reads the time from {@code clock}; schedules key-wait timeouts on {@code jwks}'s thread. */
    public AuthnFilter(Clock clock, JwksCache jwks) {
        this.clock = requireNonNull(clock, "clock");
        this.jwks = requireNonNull(jwks, "jwks");
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        List<JwtRule> rules = request.snapshot().part(JwtRules.PART).forTarget(request.target());
        if (rules.isEmpty()) {
            return FilterResult.CONTINUE; // no RequestAuthentication applies: tokens are not looked at
        }
        HeadersView headers = request.requestHeaders();
        boolean secondAsk = request.get(WAITED) != null;
        if (!secondAsk) {
            removeOutputHeaders(rules, headers);
        }
        AuthnResult result = JwtVerifier.verify(rules, headers, request.attributes().path(), clock.millis() / 1000);
        if (result instanceof AuthnResult.NoToken) {
            return FilterResult.CONTINUE;
        }
        if (result instanceof AuthnResult.Valid v) {
            apply(request, v);
            return FilterResult.CONTINUE;
        }
        if (result instanceof AuthnResult.KeysPending p) {
            if (secondAsk) {
                return reject(request, 401, JwtVerifier.JWKS_FETCH_FAILED);
            }
            request.set(WAITED, Boolean.TRUE);
            return FilterResult.retryWhen(withTimeout(p.rule().keys().ready(), p.rule()));
        }
        AuthnResult.Invalid invalid = (AuthnResult.Invalid) result;
        return reject(request, invalid.status(), invalid.message());
    }

    private CompletableFuture<Object> withTimeout(CompletableFuture<?> ready, JwtRule rule) {
        CompletableFuture<Object> done = new CompletableFuture<>();
        ready.whenComplete((v, err) -> done.complete(null));
        try {
            jwks.schedule(() -> done.complete(null), rule.timeout());
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            done.complete(null); // shutting down: ask again at once (then 401 if the keys are still missing)
        }
        return done;
    }

    private static void removeOutputHeaders(List<JwtRule> rules, HeadersView headers) {
        for (JwtRule rule : rules) {
            if (rule.outputPayloadToHeader() != null) {
                headers.remove(rule.outputPayloadToHeader());
            }
            rule.outputClaimToHeaders().forEach(c -> headers.remove(c.header()));
        }
    }

    private static void apply(RequestContext request, AuthnResult.Valid v) {
        request.set(JwtAuthn.KEY, v.authn());
        HeadersView headers = request.requestHeaders();
        JwtRule rule = v.rule();
        // Istio forwardOriginalToken (Envoy forward): "If false, the JWT is removed in the request
        // after a success verification"; Envoy removes it from header locations only
        if (!rule.forwardOriginalToken() && v.location() instanceof JwtRule.TokenLocation.Header h) {
            headers.remove(h.name());
        }
        if (rule.outputPayloadToHeader() != null) {
            String token = v.token();
            int a = token.indexOf('.');
            int b = token.indexOf('.', a + 1);
            headers.set(rule.outputPayloadToHeader(), token.substring(a + 1, b)); // base64url, as in the token
        }
        for (var c : rule.outputClaimToHeaders()) {
            String value = Claims.headerValue(v.payload(), c.claim());
            if (value != null) {
                headers.set(c.header(), value);
            }
        }
    }

    private static FilterResult reject(RequestContext request, int status, String message) {
        Rejection.Reason reason = status == 403 ? Rejection.Reason.JWT_AUDIENCE_DENIED : Rejection.Reason.JWT_REJECTED;
        return FilterResult.reply(new Rejection(reason, message), Map.of("www-authenticate", challenge(request)));
    }

    /** Envoy's challenge: {@code Bearer realm="http://<host><path>", error="invalid_token"}, path without the query. */
    static String challenge(RequestContext request) {
        String path = request.attributes().path();
        int q = path == null ? -1 : path.indexOf('?');
        String p = path == null ? "/" : q < 0 ? path : path.substring(0, q);
        String host = request.attributes().host() == null ? "" : request.attributes().host();
        return "Bearer realm=\"http://" + host + p + "\", error=\"invalid_token\"";
    }
}
