package dev.waypoint.model.mesh;

import java.util.Objects;
import java.util.Optional;

/**
 * An Istio workload identity, {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}.
 * ztunnel rejects any other shape, and so do we.
 */
public record SpiffeId(String trustDomain, String namespace, String serviceAccount) {
    private static final String SCHEME = "spiffe://";

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
    }

    /** Parses a URI SAN; empty if it is not an Istio SPIFFE identity. */
    public static Optional<SpiffeId> parse(String uri) {
        if (uri == null || !uri.startsWith(SCHEME)) {
            return Optional.empty();
        }
        String[] parts = uri.substring(SCHEME.length()).split("/", -1);
        if (parts.length != 5 || !"ns".equals(parts[1]) || !"sa".equals(parts[3])) {
            return Optional.empty();
        }
        for (String p : parts) {
            if (p.isEmpty()) {
                return Optional.empty();
            }
        }
        return Optional.of(new SpiffeId(parts[0], parts[2], parts[4]));
    }

    /** The URI form. */
    public String uri() {
        return SCHEME + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
    }

    @Override
    public String toString() {
        return uri();
    }
}
