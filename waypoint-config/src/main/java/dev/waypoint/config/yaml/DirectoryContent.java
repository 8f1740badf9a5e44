package dev.waypoint.config.yaml;

import java.util.List;
import java.util.Objects;

/**
 * Everything read from a manifest directory at one time.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 *
 * @param scan the fingerprint taken just before the files were read (so a change made while
 *        reading shows up as a difference at the next poll)
 * @param manifests one entry per manifest file, sorted by path: its bytes ({@link ManifestText}), or a
 *        {@link ManifestFile} with the error when it could not be read; parsed by whoever reads them
 * @param contentHash SHA-256 over every path and its bytes: equal hashes mean equal config
 * @param meshConfig the {@code --mesh-config} file, or null when there is none
 */
public record DirectoryContent(DirectoryScan scan, List<Manifest> manifests, String contentHash,
                               MeshConfigFile meshConfig) {
    /**
     * The {@code --mesh-config} file as read.
     *
     * @param path the file as given
     * @param text its content, or null when it could not be read
     * @param error why it could not be read, or null
     */
    public record MeshConfigFile(String path, String text, String error) {
        public MeshConfigFile {
            Objects.requireNonNull(path, "path");
        }
    }

    /** Content with no mesh config file. */
    public DirectoryContent(DirectoryScan scan, List<Manifest> manifests, String contentHash) {
        this(scan, manifests, contentHash, null);
    }

    public DirectoryContent {
        Objects.requireNonNull(scan, "scan");
        manifests = List.copyOf(manifests);
        Objects.requireNonNull(contentHash, "contentHash");
    }

    /**
     * Every file parsed, at once (for tools and tests; the publisher parses one file at a time
     * through {@link #manifests()}, which keeps far less in the heap).
     */
    public List<ManifestFile> files() {
        return manifests.stream().map(Manifest::parse).toList();
    }
}
