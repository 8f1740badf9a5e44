package dev.waypoint.config.translate;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.util.Objects;

/**
 * What became of one {@link WireObject}: kept (with its domain record), rejected (an error was
 * reported) or skipped (a warning was reported and nothing is kept, e.g. an FQDN EndpointSlice).
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 *
 * @param key the object's identity, or null when it has none (no kind or no name)
 * @param spec one of {@link NamespaceSpec}, {@link ServiceSpec}, {@link PodSpec},
 *        {@link EndpointSliceSpec}, {@link GatewaySpec}, {@code RequestAuthenticationSpec},
 *        {@code AuthorizationPolicySpec}, {@link OtherResource}; null unless kept
 * @param rejected whether an error was reported for this object
 */
public record TranslatedObject(ResourceKey key, Object spec, SourceRef source, boolean rejected) {
    public TranslatedObject {
        Objects.requireNonNull(source, "source");
        if (rejected && spec != null) {
            throw new IllegalArgumentException("a rejected object keeps no spec: " + key);
        }
    }

    /** Whether the object reaches the {@link dev.waypoint.model.ResourceSet}. */
    public boolean kept() {
        return spec != null;
    }
}
