package dev.waypoint.config.yaml;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A cheap fingerprint of a manifest directory: each file's path, size, modification time and
 * file key (inode), taken without reading any content.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 *
 * @param files one entry per manifest file, sorted by path
 * @param takenAt when the directory was listed
 * @param directories the directories the listing went through, the top one first, as the paths
 *        it visited them by (through symbolic links; hidden ones were skipped): what a watch must
 *        cover. Not part of {@link #sameFiles}.
 */
public record DirectoryScan(List<Entry> files, Instant takenAt, List<Path> directories) {
    /**
     * How close to {@link #takenAt} a modification time must be for the fingerprint to be
     * untrustworthy: a file rewritten again within the file system's timestamp granularity (up
     * to 2 s on some) keeps its mtime, and often its size. Git calls such an entry "racily clean".
     */
    static final Duration RACY_WINDOW = Duration.ofSeconds(2);

    public DirectoryScan {
        files = List.copyOf(files);
        Objects.requireNonNull(takenAt, "takenAt");
        directories = List.copyOf(directories);
    }

    /**
     * One file.
     *
     * @param path relative to the directory, {@code /}-separated, through the visible (symlink) name
     * @param modifiedNanos last modification time of the file the name resolves to, in epoch nanoseconds
     * @param fileKey the file system's identity of that file (an inode), or null where there is none
     */
    public record Entry(String path, long size, long modifiedNanos, Object fileKey) {}

    /** Whether both scans list the same files with the same sizes, times and keys. */
    public boolean sameFiles(DirectoryScan other) {
        return other != null && files.equals(other.files);
    }

    /**
     * Whether a file was modified so shortly before this scan that a later change could go unseen
     * by {@link #sameFiles}; the content must then be hashed again to be sure.
     */
    public boolean racy() {
        Instant since = takenAt.minus(RACY_WINDOW);
        long limit = since.getEpochSecond() * 1_000_000_000L + since.getNano();
        for (Entry e : files) {
            if (e.modifiedNanos() >= limit) {
                return true;
            }
        }
        return false;
    }
}
