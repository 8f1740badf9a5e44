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
 * @param files one entry per manifest file, sorted by path
 * @param contentHash SHA-256 over every path and its bytes: equal hashes mean equal config
 * @param meshConfig the {@code --mesh-config} file, or null when there is none
 */
public record DirectoryContent(DirectoryScan scan, List<ManifestFile> files, String contentHash,
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
    public DirectoryContent(DirectoryScan scan, List<ManifestFile> files, String contentHash) {
        this(scan, files, contentHash, null);
    }

    public DirectoryContent {
        Objects.requireNonNull(scan, "scan");
        files = List.copyOf(files);
        Objects.requireNonNull(contentHash, "contentHash");
    }
}
