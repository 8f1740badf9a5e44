package dev.waypoint.authn;

import com.nimbusds.jose.jwk.JWKSet;
import java.util.concurrent.CompletableFuture;

/**
 * Where a jwtRule's verification keys come from: an inline {@code jwks} (parsed when the config is
 * compiled) or a {@code jwksUri} fetched by {@link JwksCache}. Read on the event loop: never blocks.
 */
interface KeySource {
    /** The keys now, or null while the first fetch is still under way (or failed). */
    JWKSet current();

    /**
     * Completes when keys are there (at once for inline keys). Shared by every request waiting for
     * the same JWKS; callers add their own timeout.
     */
    CompletableFuture<JWKSet> ready();

    /** Where the keys come from, for logs and the config dump. */
    String describe();

    /** Inline keys: always there. */
    static KeySource inline(JWKSet keys) {
        CompletableFuture<JWKSet> done = CompletableFuture.completedFuture(keys);
        return new KeySource() {
            @Override
            public JWKSet current() {
                return keys;
            }

            @Override
            public CompletableFuture<JWKSet> ready() {
                return done;
            }

            @Override
            public String describe() {
                return "inline (" + keys.getKeys().size() + " keys)";
            }
        };
    }
}
