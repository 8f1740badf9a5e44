package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.JwtRuleSpec;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code security.istio.io/v1} (and {@code v1beta1}) {@code RequestAuthentication} →
 * {@link RequestAuthenticationSpec}. Follows Istio's validation ({@code pilot/pkg/config/validation},
 * {@code ValidateRequestAuthentication}, {@code validateJwtRule}) where it is stricter than
 * nothing: {@code issuer} or {@code jwksUri} required, {@code jwksUri} an http(s) URL, {@code jwks} a JWKS document,
 * {@code selector} and {@code targetRefs} not both, header names valid; and the CRD's rules: only
 * one of {@code jwks}, {@code jwksUri} and {@code jwks_uri} (the proto field's own name, which the
 * CRD lists too and which is read as {@code jwksUri}), {@code presence} OPTIONAL or REQUIRED
 * (REQUIRED is warned about: Istio does not apply it, nor does this waypoint).
 *
 * <p>Unknown fields are errors, not warnings: a misspelt {@code audience} silently dropped would
 * accept tokens for any audience. A rejected object keeps its last good version (the publisher).
 *
 * <p>A rule with neither {@code jwksUri} nor {@code jwks} is an error here: Istio would discover
 * the JWKS through the issuer's OpenID configuration, which this waypoint does not do. Not in an
 * object without targetRefs (selector-based or namespace-wide), which a waypoint never applies:
 * Istio's own validation dataset has one, and it is valid.
 *
 * <p>Selector-based objects and objects without targetRefs are kept with a warning: a waypoint
 * does not apply them (shared/spec/authz.md §1), ztunnel or sidecars do.
 */
final class RequestAuthenticationTranslator {
    private static final Set<String> SPEC_FIELDS = Set.of("selector", "targetRef", "targetRefs", "jwtRules");
    private static final Set<String> RULE_FIELDS = Set.of("issuer", "audiences", "jwksUri", "jwks", "fromHeaders",
            "fromParams", "fromCookies", "forwardOriginalToken", "outputPayloadToHeader", "outputClaimToHeaders",
            "spaceDelimitedClaims", "timeout", "jwks_uri", "presence");
    private static final Set<String> HEADER_FIELDS = Set.of("name", "prefix");
    private static final Set<String> CLAIM_FIELDS = Set.of("header", "claim");
    private static final Set<String> SELECTOR_FIELDS = Set.of("matchLabels");
    // RFC 7230 token: what an HTTP header name may be
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");
    private static final String DURATION_EXPECTED = "a duration of at least 1ms such as 5s, 500ms or 1m30s";
    /** Reads an inline {@code jwks} document, to check its shape. */
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private RequestAuthenticationTranslator() {}

    static RequestAuthenticationSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", SPEC_FIELDS);

        JsonNode selector = ctx.object(spec, "spec", "selector");
        boolean hasSelector = selector != null;
        if (hasSelector) {
            ctx.unknownKeys(selector, "spec.selector", SELECTOR_FIELDS);
            ctx.stringMap(selector, "spec.selector", "matchLabels");
        }
        PolicyTargetRefs.Read targets = PolicyTargetRefs.read(ctx, spec, "Service or Gateway");
        List<PolicyTargetRef> refs = targets.refs();
        if (hasSelector && targets.written()) {
            ctx.error("spec.selector", message("selector", render(selector), "only one of selector or targetRefs"));
        } else if (hasSelector) {
            ctx.warning("spec.selector", "a waypoint applies RequestAuthentication through targetRefs only; "
                    + "this selector-based object is enforced by ztunnel or sidecars, not here");
        } else if (!targets.written()) {
            ctx.warning("spec.targetRefs", "missing: a waypoint does not apply a namespace- or mesh-wide "
                    + "RequestAuthentication (no targetRefs); it attaches to nothing here");
        }

        List<JwtRuleSpec> rules = new ArrayList<>();
        List<JsonNode> ruleNodes = ctx.list(spec, "spec", "jwtRules");
        for (int i = 0; i < ruleNodes.size(); i++) {
            String p = index("spec.jwtRules", i);
            JsonNode n = ctx.element(ruleNodes.get(i), p, "jwtRules[" + i + "]");
            JwtRuleSpec r = n == null ? null : rule(ctx, n, p, targets.written());
            if (r != null) {
                rules.add(r);
            }
        }
        return new RequestAuthenticationSpec(name, refs, hasSelector, rules, ctx.source());
    }

    /**
     * {@code presence} (OPTIONAL, the default, or REQUIRED) is in the API but Istio's proxies do not
     * apply it (pilot reads no {@code GetPresence}); neither does this waypoint. A REQUIRED is kept
     * with a warning, since a request without a token still passes the RequestAuthentication.
     */
    private static void presence(ObjectContext ctx, JsonNode n, String p) {
        String presence = ctx.string(n, p, "presence");
        if (presence == null || presence.equals("OPTIONAL")) {
            return;
        }
        if (!presence.equals("REQUIRED")) {
            ctx.error(path(p, "presence"), message("presence", presence, "OPTIONAL or REQUIRED"));
            return;
        }
        ctx.warning(path(p, "presence"), "presence: REQUIRED is not applied (Istio does not apply it either): a request "
                + "without a token passes; an AuthorizationPolicy with requestPrincipals: [\"*\"] requires one");
    }

    /**
     * @param appliedHere whether the object has targetRefs; one without attaches to nothing at a
     *        waypoint (warned), so that its keys are never fetched and OpenID discovery is no error
     */
    private static JwtRuleSpec rule(ObjectContext ctx, JsonNode n, String p, boolean appliedHere) {
        ctx.unknownKeys(n, p, RULE_FIELDS);
        String issuer = ctx.string(n, p, "issuer");
        if (issuer != null && issuer.isEmpty()) {
            issuer = null; // proto3: an empty string is not set, as Istio's len(rule.Issuer) == 0 reads it
        }
        List<String> audiences = strings(ctx, n, p, "audiences");
        String jwksUri = ctx.string(n, p, "jwksUri");
        if (jwksUri != null) {
            checkUri(ctx, jwksUri, path(p, "jwksUri"));
        }
        // the proto field's own name, which the CRD lists beside its JSON name (and protojson reads)
        String legacyUri = ctx.string(n, p, "jwks_uri");
        if (legacyUri != null) {
            checkUri(ctx, legacyUri, path(p, "jwks_uri"));
        }
        String jwks = ctx.string(n, p, "jwks");
        if (jwks != null) {
            checkJwks(ctx, jwks, path(p, "jwks"));
        }
        // CRD CEL rule: "(has(self.jwksUri) ? 1 : 0) + (has(self.jwks_uri) ? 1 : 0) + (has(self.jwks) ? 1 : 0) <= 1".
        // The API server refuses such a rule; one that exists anyway (a directory, admission off) is
        // applied as istiod applies it: the inline jwks if any (policy_applier.go: "jwtPubKey :=
        // jwtRule.Jwks; if jwtPubKey == "" { ... GetPublicKey(jwtRule.Issuer, jwtRule.JwksUri ...) }"),
        // so the rule still verifies tokens instead of being dropped
        if ((jwksUri != null ? 1 : 0) + (legacyUri != null ? 1 : 0) + (jwks != null ? 1 : 0) > 1) {
            ctx.warning(p, message("jwtRules", "more than one of jwks, jwksUri and jwks_uri",
                    "only one of jwks or jwksUri can be set; " + (jwks != null ? "the inline jwks is used"
                            : "jwksUri is used")));
        }
        if (jwksUri == null) {
            jwksUri = legacyUri;
        }
        // validation.go validateJwtRule: "if len(rule.Issuer) == 0 && len(rule.JwksUri) == 0 {
        // ... "issuer or jwksUri must be non-empty string"": an inline jwks alone is not enough. A
        // rule without issuer accepts tokens of any iss that its keys verify (Envoy's JwtProvider)
        JsonNode issuerNode = child(n, "issuer");
        if (issuer == null && (jwksUri == null || jwksUri.isEmpty())
                && (issuerNode == null || issuerNode.isTextual())) { // another type is reported already
            ctx.error(path(p, "issuer"), message("issuer", issuerNode == null ? "missing" : "\"\"",
                    "issuer or jwksUri (Istio: \"issuer or jwksUri must be non-empty string\")"));
        }
        if (jwks != null) {
            jwksUri = null;
        }
        presence(ctx, n, p);
        // "jwks_uri ... Optional if the key set document can either (a) be retrieved from OpenID
        // Discovery of the issuer or (b) inferred from the email domain of the issuer": (a) needs an
        // http(s) issuer (its /.well-known/openid-configuration); (b) is Google's, not supported
        if ((jwksUri == null || jwksUri.isEmpty()) && (jwks == null || jwks.isEmpty()) && appliedHere
                && issuer != null && !(issuer.startsWith("https://") || issuer.startsWith("http://"))) {
            ctx.error(path(p, "jwksUri"), message("jwksUri", "missing", "jwksUri or jwks, or an issuer that is "
                    + "an http(s) URL for OpenID discovery of its keys"));
        }
        List<JwtRuleSpec.FromHeader> headers = new ArrayList<>();
        List<JsonNode> hs = ctx.list(n, p, "fromHeaders");
        for (int i = 0; i < hs.size(); i++) {
            String hp = index(path(p, "fromHeaders"), i);
            JsonNode h = ctx.element(hs.get(i), hp, "fromHeaders[" + i + "]");
            if (h == null) {
                continue;
            }
            ctx.unknownKeys(h, hp, HEADER_FIELDS);
            String hname = headerName(ctx, h, hp, "name");
            String prefix = ctx.string(h, hp, "prefix");
            if (hname != null) {
                headers.add(new JwtRuleSpec.FromHeader(hname, prefix));
            }
        }
        List<String> params = strings(ctx, n, p, "fromParams");
        List<String> cookies = strings(ctx, n, p, "fromCookies");
        boolean forward = ctx.bool(n, p, "forwardOriginalToken", false);
        String payloadHeader = null;
        if (child(n, "outputPayloadToHeader") != null) {
            payloadHeader = headerName(ctx, n, p, "outputPayloadToHeader");
        }
        List<JwtRuleSpec.ClaimToHeader> claims = new ArrayList<>();
        List<JsonNode> cs = ctx.list(n, p, "outputClaimToHeaders");
        for (int i = 0; i < cs.size(); i++) {
            String cp = index(path(p, "outputClaimToHeaders"), i);
            JsonNode c = ctx.element(cs.get(i), cp, "outputClaimToHeaders[" + i + "]");
            if (c == null) {
                continue;
            }
            ctx.unknownKeys(c, cp, CLAIM_FIELDS);
            String header = headerName(ctx, c, cp, "header");
            String claim = ctx.requiredString(c, cp, "claim", "a claim name such as sub");
            if (header != null && claim != null) {
                claims.add(new JwtRuleSpec.ClaimToHeader(header, claim));
            }
        }
        List<String> spaceDelimited = strings(ctx, n, p, "spaceDelimitedClaims");
        Duration timeout = null;
        JsonNode t = child(n, "timeout");
        if (t != null) {
            timeout = duration(ctx, t, path(p, "timeout"));
        }
        return new JwtRuleSpec(issuer, audiences, jwksUri, jwks, headers, params, cookies, forward, payloadHeader, claims,
                spaceDelimited, timeout);
    }

    /** Every field of {@code node} must be one of {@code known}. */
    /** A list of non-empty strings; each bad element reported at its own path. */
    private static List<String> strings(ObjectContext ctx, JsonNode n, String p, String key) {
        List<String> out = new ArrayList<>();
        List<JsonNode> items = ctx.list(n, p, key);
        for (int i = 0; i < items.size(); i++) {
            JsonNode v = items.get(i);
            if (v == null || !v.isTextual() || v.textValue().isEmpty()) {
                ctx.error(index(path(p, key), i), message(key + "[" + i + "]", v == null ? "null" : renderJson(v),
                        v == null ? "a non-empty string" : ObjectContext.stringExpected(v, "a non-empty string")));
            } else {
                out.add(v.textValue());
            }
        }
        return out;
    }

    private static String headerName(ObjectContext ctx, JsonNode n, String p, String key) {
        String h = ctx.requiredString(n, p, key, "an HTTP header name");
        if (h == null) {
            return null;
        }
        if (!HEADER_NAME.matcher(h).matches()) {
            ctx.error(path(p, key), message(key, h, "an HTTP header name (RFC 7230 token characters)"));
            return null;
        }
        return h.toLowerCase(Locale.ROOT);
    }

    private static void checkUri(ObjectContext ctx, String s, String p) {
        try {
            URI u = new URI(s);
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
            if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null) {
                ctx.error(p, message("jwksUri", s, "an http or https URL with a host"));
            }
        } catch (URISyntaxException e) {
            ctx.error(p, message("jwksUri", s, "an http or https URL with a host"));
        }
    }

    private static void checkJwks(ObjectContext ctx, String s, String p) {
        JsonNode doc;
        try {
            doc = JSON.readTree(s);
        } catch (java.io.IOException e) {
            ctx.error(p, message("jwks", s, "a JWKS document: {\"keys\": [...]}"));
            return;
        }
        JsonNode keys = doc == null ? null : doc.get("keys");
        if (keys == null || !keys.isArray()) {
            ctx.error(p, message("jwks", s, "a JWKS document: {\"keys\": [...]}"));
        }
    }

    private static Duration duration(ObjectContext ctx, JsonNode t, String p) {
        if (!t.isTextual()) {
            ctx.error(p, message("timeout", renderJson(t), DURATION_EXPECTED));
            return null;
        }
        Duration d = GoDuration.parse(t.textValue());
        if (d == null || d.compareTo(Duration.ofMillis(1)) < 0) {
            ctx.error(p, message("timeout", t.textValue(), DURATION_EXPECTED));
            return null;
        }
        return d;
    }
}
