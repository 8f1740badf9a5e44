package dev.waypoint.config;

import dev.waypoint.config.translate.ResourceKey;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.mesh.MeshConfigSpec;
import java.util.List;
import java.util.Map;

/**
 * What the last published generation was built from, so that the next one can fall back to it:
 * each file's objects as of the last time it parsed, and each object that was kept.
 *
 * @param files file path → its objects from the last generation in which it parsed
 * @param objects identity → the kept translation (a fallback one included, so a broken object
 *        keeps serving for as long as it stays broken)
 * @param meshConfig the mesh config in use ({@link MeshConfigSpec#DEFAULT} when there was none)
 */
record LastGood(Map<String, List<WireObject>> files, Map<ResourceKey, TranslatedObject> objects,
                MeshConfigSpec meshConfig) {
    /** Nothing to fall back to: the first generation, and the {@code validate} command. */
    static final LastGood NONE = new LastGood(Map.of(), Map.of(), MeshConfigSpec.DEFAULT);

    LastGood(Map<String, List<WireObject>> files, Map<ResourceKey, TranslatedObject> objects) {
        this(files, objects, MeshConfigSpec.DEFAULT);
    }

    LastGood {
        java.util.Objects.requireNonNull(meshConfig, "meshConfig");
        files = Map.copyOf(files);
        objects = Map.copyOf(objects);
    }
}
