package dev.waypoint.authz;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import dev.waypoint.model.request.ServiceCalls;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
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
 * <p><b>CUSTOM first</b> ("CUSTOM policies whose rules match → ask the ext-authz provider; its
 * deny is final"): when an asking CUSTOM rule matches, the provider is called through
 * {@link ServiceCalls} and the request waits ({@link FilterResult#retryWhen}: the filter runs
 * again on the request's event loop once the answer is in, so it can touch the request):
 * <ul>
 *   <li>deny: answered with the provider's status, body and headers ({@code ext_authz_denied});</li>
 *   <li>allow: its headers are applied to the upstream request (and, for the client, to the
 *       response), then DENY and ALLOW decide as usual;</li>
 *   <li>no answer (unreachable, timeout, 5xx, garbage): {@code failOpen} goes on to DENY and
 *       ALLOW, otherwise {@code statusOnError} with an empty body ({@code ext_authz_error}).</li>
 * </ul>
 *
 * <p>Per request without CUSTOM: one engine lookup, one input object, decisions built at compile time.
 */
public final class AuthzFilter implements HttpFilter {
    private static final Logger log = LoggerFactory.getLogger(AuthzFilter.class);

    /** Response header carrying the decision when {@code --debug-headers} is set. */
    public static final String DEBUG_HEADER = "x-waypoint-authz";

    /** The request slot holding the ext_authz call of this request, once started. */
    static final RequestKey<Check> CHECK = RequestKey.of("authz.ext_authz", Check.class);

    private final boolean debugHeaders;
    private final ServiceCalls calls;
    private final Clock clock;

    /** Without a way to call ext_authz providers: a CUSTOM rule that asks gets the provider's error answer. */
    public AuthzFilter(boolean debugHeaders) {
        this(debugHeaders, ServiceCalls.refusing("no ext_authz transport here"), Clock.systemUTC());
    }

    /**
     * @param debugHeaders add {@link #DEBUG_HEADER} to every response
     * @param calls how ext_authz providers are called
     * @param clock the time a gRPC check carries
     */
    public AuthzFilter(boolean debugHeaders, ServiceCalls calls, Clock clock) {
        this.debugHeaders = debugHeaders;
        this.calls = Objects.requireNonNull(calls, "calls");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** One request's ext_authz call: the CUSTOM rule that asked, the provider, and the answer. */
    static final class Check {
        final AuthzDecision asked;
        final ExtAuthz.Provider provider;
        CompletableFuture<ExtAuthz.Result> answer;
        /** Headers the provider sends to the client on allow; confined to the request's loop. */
        List<Map.Entry<String, String>> downstream = List.of();

        Check(AuthzDecision asked, ExtAuthz.Provider provider) {
            this.asked = asked;
            this.provider = provider;
        }

        @Override
        public String toString() {
            return "Check(" + provider.name() + ", " + asked.detail() + ")";
        }
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
        if (engine.asks()) {
            Check check = request.get(CHECK);
            if (check == null) {
                AuthzDecision asked = engine.customMatch(request.attributes(), jwt);
                if (asked != null) {
                    check = new Check(asked, engine.provider());
                    request.set(CHECK, check);
                    check.answer = ask(check.provider, request);
                    if (!check.answer.isDone()) {
                        return FilterResult.retryWhen(check.answer);
                    }
                }
            }
            if (check != null) {
                FilterResult r = answered(request, check);
                if (r != null) {
                    return r;
                }
            }
        }
        AuthzDecision decision = engine.decide(request.attributes(), jwt);
        request.set(AuthzDecision.KEY, decision);
        if (engine.hasShadow()) {
            AuthzDecision shadow = engine.shadow(request.attributes(), jwt);
            request.set(AuthzDecision.SHADOW_KEY, shadow);
            if (log.isDebugEnabled()) { // (the detail is a string built per request)
                log.debug("authz dry-run {}: {}", request, shadow.detail());
            }
        }
        if (engine.hasAudit()) {
            String audited = engine.audited(request.attributes(), jwt);
            if (audited != null) {
                request.set(AuthzDecision.AUDIT_KEY, audited);
            }
        }
        if (log.isDebugEnabled()) {
            log.debug("authz {}: {}", request, decision.detail());
        }
        if (!decision.allowed()) {
            return FilterResult.reply(new Rejection(Rejection.Reason.RBAC_DENIED, decision.detail()));
        }
        return FilterResult.CONTINUE;
    }

    private CompletableFuture<ExtAuthz.Result> ask(ExtAuthz.Provider p, RequestContext request) {
        CompletionStage<ServiceCalls.Response> call;
        try {
            call = calls.call(request, ExtAuthz.checkCall(p, request, clock));
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((res, err) -> err != null ? new ExtAuthz.Error(why(err)) : ExtAuthz.interpret(p, res))
                .toCompletableFuture();
    }

    private static String why(Throwable err) {
        Throwable t = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
        return t instanceof RejectedException r ? r.rejection().toString() : t.toString();
    }

    /** Acts on the provider's answer: a reply, or null to go on with DENY and ALLOW. */
    private FilterResult answered(RequestContext request, Check check) {
        ExtAuthz.Result result = check.answer.getNow(new ExtAuthz.Error("no answer yet"));
        ExtAuthz.Provider p = check.provider;
        if (result instanceof ExtAuthz.Deny d) {
            request.set(AuthzDecision.KEY, check.asked);
            log.debug("authz {}: {} denied by ext_authz {} ({})", request, check.asked.detail(), p.name(), d.status());
            return FilterResult.reply(Rejection.withStatus(Rejection.Reason.EXT_AUTHZ_DENIED, d.status(), d.body()),
                    d.headers());
        }
        if (result instanceof ExtAuthz.Error e) {
            if (p.failOpen()) {
                // Istio failOpen: "the user request will be allowed even if the communication with
                // the authorization service has failed"; DENY and ALLOW still decide
                log.debug("authz {}: ext_authz {} failed open: {}", request, p.name(), e.why());
                return null;
            }
            request.set(AuthzDecision.KEY, check.asked);
            log.info("authz {}: ext_authz {} failed, answering {}: {}", request, p.name(), p.statusOnError(), e.why());
            return FilterResult.reply(Rejection.withStatus(Rejection.Reason.EXT_AUTHZ_ERROR, p.statusOnError(),
                    "provider " + p + ": " + e.why()));
        }
        ExtAuthz.Allow a = (ExtAuthz.Allow) result;
        HeadersView h = request.requestHeaders();
        for (String name : a.remove()) {
            if (!name.startsWith(":") && !name.equals("host")) {
                h.remove(name);
            }
        }
        for (CheckProto.HeaderOption o : a.upstream()) {
            if (o.name().isEmpty() || o.name().startsWith(":")) {
                continue; // pseudo-headers are not the provider's to change here
            }
            switch (o.apply()) {
                case SET -> h.set(o.name(), o.value());
                case APPEND -> h.add(o.name(), o.value());
                case ADD_IF_ABSENT -> {
                    if (!h.contains(o.name())) {
                        h.set(o.name(), o.value());
                    }
                }
                case OVERWRITE_IF_EXISTS -> {
                    if (h.contains(o.name())) {
                        h.set(o.name(), o.value());
                    }
                }
            }
        }
        check.downstream = a.downstream();
        log.debug("authz {}: allowed by ext_authz {}", request, p.name());
        return null;
    }

    @Override
    public void onResponse(RequestContext request, int status, HeadersView headers) {
        Check check = request.get(CHECK);
        if (check != null) {
            // Istio headersToDownstreamOnAllow: "Note, any existing headers will be overridden"
            for (Map.Entry<String, String> e : check.downstream) {
                headers.set(e.getKey(), e.getValue());
            }
        }
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
