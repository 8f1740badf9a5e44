package dev.waypoint.config.translate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.SourceRef;
import java.util.Objects;

/**
 * One Kubernetes object as it arrived on the wire: a Jackson tree plus where it came from. The
 * YAML directory source and (later) the Kubernetes source both produce these, and both feed the
 * same {@link ResourceTranslator} (STYLE rule 2: the source is the only thing that differs).
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}. The tree is treated as
 * immutable once built; nothing in this module mutates it.
 *
 * @param tree the object (an {@code ObjectNode} for anything valid; any other node is reported)
 * @param source manifest file and the line the document or {@code List} item starts on
 */
public record WireObject(JsonNode tree, SourceRef source) {
    public WireObject {
        Objects.requireNonNull(tree, "tree");
        Objects.requireNonNull(source, "source");
    }
}
