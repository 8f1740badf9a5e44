package dev.waypoint.authn;

import static java.util.Objects.requireNonNull;

import com.nimbusds.jose.jwk.JWKSet;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.security.JwtRuleSpec;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import java.net.URI;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RequestAuthentications → {@link JwtRules}: per Service, the jwtRules of every
 * RequestAuthentication attached to it through {@code targetRefs} (a Service reference, this
 * waypoint's Gateway, or the {@code istio-waypoint} GatewayClass from the root namespace:
 * {@link dev.waypoint.model.security.PolicyTargetRef}); per ServiceEntry, those attached through a
 * {@code networking.istio.io} {@code ServiceEntry} reference plus the gateway-wide ones; for
 * Pod-addressed calls (and ServiceEntries with none of their own), those attached to the Gateway or GatewayClass. Selector-based objects attach to nothing (translation warned).
 *
 * <p>Inline {@code jwks} is parsed here; a document nimbus cannot read is reported and the rule
 * keeps an empty key set, so its tokens fail verification (Istio does the same: it replaces a bad
 * JWKS with one no token verifies against). A {@code jwksUri} is handed to the {@link JwksCache},
 * which starts fetching at once.
 *
 * <h2>Threading</h2>
 * Runs on the config executor.
 */
public final class JwtRuleCompiler implements PartCompiler<JwtRules> {
    /** Istio's default root namespace (mesh config {@code rootNamespace}). */
    public static final String DEFAULT_ROOT_NAMESPACE = "istio-system";

    private final JwksCache jwks;
    private final String rootNamespace;

    /** Fetches remote keys through {@code jwks}; GatewayClass-attached objects count from {@code rootNamespace}. */
    public JwtRuleCompiler(JwksCache jwks, String rootNamespace) {
        this.jwks = requireNonNull(jwks, "jwks");
        this.rootNamespace = requireNonNull(rootNamespace, "rootNamespace");
    }

    @Override
    public SnapshotPart<JwtRules> part() {
        return JwtRules.PART;
    }

    @Override
    public JwtRules compile(ResourceSet resources, Diagnostics diagnostics) {
        NamespacedName self = resources.waypoint();
        Map<JwtRuleSpec, JwtRule> compiled = new IdentityHashMap<>();
        List<RequestAuthenticationSpec> gatewayWide = new ArrayList<>();
        for (RequestAuthenticationSpec ra : resources.requestAuthentications()) {
            if (ra.attaches(ra.name().namespace(), null, self.namespace(), self.name(), rootNamespace)) {
                gatewayWide.add(ra); // Gateway / GatewayClass: everything this waypoint serves
            }
        }
        List<JwtRule> podAddressed = rules(gatewayWide, compiled, diagnostics);
        Map<NamespacedName, List<JwtRule>> byService = new LinkedHashMap<>();
        for (ServiceSpec svc : resources.services()) {
            List<RequestAuthenticationSpec> attached = new ArrayList<>();
            for (RequestAuthenticationSpec ra : resources.requestAuthentications()) {
                if (ra.attaches(svc.name().namespace(), svc.name().name(), self.namespace(), self.name(), rootNamespace)) {
                    attached.add(ra);
                }
            }
            if (!attached.isEmpty()) {
                byService.put(svc.name(), rules(attached, compiled, diagnostics));
            }
        }
        Map<NamespacedName, List<JwtRule>> byServiceEntry = new LinkedHashMap<>();
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            List<RequestAuthenticationSpec> attached = new ArrayList<>();
            for (RequestAuthenticationSpec ra : resources.requestAuthentications()) {
                if (ra.attachesToServiceEntry(se.name().namespace(), se.name().name(), self.namespace(), self.name(),
                        rootNamespace)) {
                    attached.add(ra);
                }
            }
            if (attached.size() != gatewayWide.size()) {
                byServiceEntry.put(se.name(), rules(attached, compiled, diagnostics));
            }
        }
        return new JwtRules(byService, byServiceEntry, podAddressed);
    }

    private List<JwtRule> rules(List<RequestAuthenticationSpec> ras, Map<JwtRuleSpec, JwtRule> compiled,
                                Diagnostics diagnostics) {
        List<JwtRule> out = new ArrayList<>();
        for (RequestAuthenticationSpec ra : ras) {
            List<JwtRuleSpec> specs = ra.jwtRules();
            for (int i = 0; i < specs.size(); i++) {
                JwtRuleSpec spec = specs.get(i);
                int index = i;
                out.add(compiled.computeIfAbsent(spec, s -> JwtRule.compile(ra.name(), s, keys(ra, s, index, diagnostics))));
            }
        }
        return out;
    }

    private KeySource keys(RequestAuthenticationSpec ra, JwtRuleSpec spec, int index, Diagnostics diagnostics) {
        // Istio: "jwks ... If both jwksUri and jwks are set, jwks will be used"
        if (spec.jwks() != null && !spec.jwks().isEmpty()) {
            try {
                JWKSet keys = JWKSet.parse(spec.jwks());
                Object listed = com.nimbusds.jose.util.JSONObjectUtils.parse(spec.jwks()).get("keys");
                int written = listed instanceof List<?> l ? l.size() : 0;
                if (keys.getKeys().size() < written) {
                    // nimbus skips keys it cannot read (an unknown kty): say so, tokens signed by them fail
                    diagnostics.warning(ra.source(), "RequestAuthentication", ra.name(), "spec.jwtRules[" + index + "].jwks",
                            "jwks: " + (written - keys.getKeys().size()) + " of " + written
                                    + " keys not usable (expected: RSA, EC, OKP Ed25519 or oct keys)");
                }
                return KeySource.inline(keys);
            } catch (ParseException e) {
                diagnostics.error(ra.source(), "RequestAuthentication", ra.name(), "spec.jwtRules[" + index + "].jwks",
                        "jwks: " + e.getMessage() + " (expected: a JWKS document nimbus-jose-jwt can read; "
                                + "every token of this rule fails verification)");
                return KeySource.inline(new JWKSet());
            }
        }
        if (spec.jwksUri() == null || spec.jwksUri().isEmpty()) {
            // neither jwksUri nor jwks: "Optional if the key set document can ... be retrieved from
            // OpenID Discovery of the issuer" (Istio's JWTRule.jwks_uri); the translator let only
            // an http(s) issuer through (and needs issuer or jwksUri: Istio's validateJwtRule)
            return jwks.discovered(java.util.Objects.requireNonNull(spec.issuer(), "issuer"));
        }
        return jwks.source(URI.create(spec.jwksUri()));
    }
}
