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
 */
public record DirectoryContent(DirectoryScan scan, List<ManifestFile> files, String contentHash) {
    public DirectoryContent {
        Objects.requireNonNull(scan, "scan");
        files = List.copyOf(files);
        Objects.requireNonNull(contentHash, "contentHash");
    }
}
