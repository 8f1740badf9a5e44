package dev.waypoint.model.mesh;

import java.util.Objects;
import java.util.Optional;

/**
 * An Istio workload identity, {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}.
 * ztunnel rejects any other shape, and so do we.
 *
 * <p>A value class rather than a record so that the URI form, which authorization matches and
 * telemetry labels read on every request, is built once (a peer's identity is parsed once per
 * connection); equality is by the three parts, as for a record.
 */
public final class SpiffeId {
    private static final String SCHEME = "spiffe://";

    private final String trustDomain;
    private final String namespace;
    private final String serviceAccount;
    private final String uri;

    public SpiffeId(String trustDomain, String namespace, String serviceAccount) {
        this.trustDomain = Objects.requireNonNull(trustDomain, "trustDomain");
        this.namespace = Objects.requireNonNull(namespace, "namespace");
        this.serviceAccount = Objects.requireNonNull(serviceAccount, "serviceAccount");
        this.uri = SCHEME + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
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

    /** The trust domain ({@code cluster.local}). */
    public String trustDomain() {
        return trustDomain;
    }

    /** The namespace. */
    public String namespace() {
        return namespace;
    }

    /** The service account. */
    public String serviceAccount() {
        return serviceAccount;
    }

    /** The URI form (built once). */
    public String uri() {
        return uri;
    }

    @Override
    public boolean equals(Object o) {
        return this == o || o instanceof SpiffeId s && trustDomain.equals(s.trustDomain) && namespace.equals(s.namespace)
                && serviceAccount.equals(s.serviceAccount);
    }

    @Override
    public int hashCode() {
        return uri.hashCode();
    }

    @Override
    public String toString() {
        return uri;
    }
}
