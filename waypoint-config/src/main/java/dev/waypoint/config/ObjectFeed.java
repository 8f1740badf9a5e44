package dev.waypoint.config;

import dev.waypoint.config.yaml.ManifestFile;
import java.util.List;

/**
 * A config source that is told about changes instead of being listed: the Kubernetes API
 * (waypoint-kube's {@code KubernetesSource}). The publisher reads it the way it reads a manifest
 * directory, so both go through the same translator, validation, last-good rule and snapshot
 * swap (STYLE rule 2: only the source differs).
 *
 * <p>Each object is one {@link ManifestFile} of one {@code WireObject} whose path names the object
 * ({@code api:HTTPRoute/default/reviews}), so a diagnostic points at the object in the cluster.
 *
 * <h2>Threading</h2>
 * Both methods are called on the config executor and must not block on the network: the feed
 * keeps its objects in memory as they arrive.
 */
public interface ObjectFeed {
    /**
     * A number that changes whenever the content may have changed. The publisher reads it before
     * {@link #read()}, so a change made while reading shows up as a new version at the next poll.
     */
    long version();

    /** The current objects, one file per object, in a stable order. */
    List<ManifestFile> read();

    /** What the feed reads, for logs ({@code the Kubernetes API at https://...}). */
    String describe();
}
