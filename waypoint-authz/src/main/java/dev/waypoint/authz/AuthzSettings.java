package dev.waypoint.authz;

import java.util.List;
import java.util.Objects;

/**
 * Process settings of the policy stages (flags of {@code waypoint run}, not mesh config).
 *
 * @param rootNamespace Istio's root namespace: a {@code GatewayClass istio-waypoint} policy applies
 *        only from here ({@code --root-namespace}, default {@code istio-system})
 * @param trustDomainAliases mesh config {@code trustDomainAliases} (none by default)
 * @param pathNormalization what the request path is normalized to before policies see it and
 *        before it is forwarded ({@code --path-normalization}); null: the mesh config's
 *        {@code pathNormalization}, else BASE
 * @param debugHeaders add {@code x-waypoint-authz} (the decision) to every response ({@code --debug-headers})
 */
public record AuthzSettings(String rootNamespace, List<String> trustDomainAliases, PathNormalizer.Mode pathNormalization,
                            boolean debugHeaders) {
    public AuthzSettings {
        Objects.requireNonNull(rootNamespace, "rootNamespace");
        trustDomainAliases = List.copyOf(trustDomainAliases);
    }

    /** Istio's defaults (path normalization from the mesh config, else BASE). */
    public static AuthzSettings defaults() {
        return new AuthzSettings(AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE, List.of(), null, false);
    }
}
