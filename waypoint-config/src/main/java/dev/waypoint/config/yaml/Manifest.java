package dev.waypoint.config.yaml;

/**
 * One manifest file of a generation, parsed when asked: a file read from the directory
 * ({@link ManifestText}, its bytes) or one already in object form ({@link ManifestFile}, what an
 * {@code ObjectFeed} hands over). The generation builder parses and translates one file at a time
 * and lets its trees go before the next, so that the Jackson trees of a whole generation never
 * sit in the heap at once (issue 17: 10,000 Services and Pods did not fit 128 MiB that way).
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 */
public sealed interface Manifest permits ManifestFile, ManifestText {
    /** The file, relative to the directory, with {@code /} separators (or the object's name in a feed). */
    String path();

    /**
     * The file's objects, or why it could not be read or parsed. A {@link ManifestText} parses
     * its bytes again on every call and keeps nothing; a {@link ManifestFile} is its own result.
     */
    ManifestFile parse();
}
