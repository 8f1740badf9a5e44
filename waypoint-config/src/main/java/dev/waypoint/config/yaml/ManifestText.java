package dev.waypoint.config.yaml;

import java.util.Objects;

/**
 * A manifest file as read from the directory, not parsed yet: {@link #parse()} parses it each
 * time it is called. The last good generation keeps these (a file's bytes are a fraction of its
 * Jackson trees) so that a file that stops parsing can serve what it held when it last parsed.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}. The array is owned by
 * this record and never written after it is made (equality is identity, as for any array).
 *
 * @param path relative to the directory, with {@code /} separators
 * @param content the file's bytes
 */
public record ManifestText(String path, byte[] content) implements Manifest {
    public ManifestText {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(content, "content");
    }

    @Override
    public ManifestFile parse() {
        return YamlManifestReader.parse(path, content);
    }

    @Override
    public String toString() {
        return "ManifestText(" + path + ", " + content.length + " bytes)";
    }
}
