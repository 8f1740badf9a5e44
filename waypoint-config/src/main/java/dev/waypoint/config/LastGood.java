package dev.waypoint.config;

import dev.waypoint.config.translate.ResourceKey;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.yaml.Manifest;
import dev.waypoint.model.mesh.MeshConfigSpec;
import java.util.Map;

/**
 * What the last published generation was built from, so that the next one can fall back to it:
 * each file's objects as of the last time it parsed, and each object that was kept.
 *
 * @param files file path → the file as it was in the last generation in which it parsed (its bytes
 *        for a directory, parsed again only if the file is broken now: a whole generation's
 *        Jackson trees are many times its bytes)
 * @param objects identity → the kept translation (a fallback one included, so a broken object
 *        keeps serving for as long as it stays broken)
 * @param meshConfig the mesh config in use ({@link MeshConfigSpec#DEFAULT} when there was none)
 */
record LastGood(Map<String, Manifest> files, Map<ResourceKey, TranslatedObject> objects,
                MeshConfigSpec meshConfig) {
    /** Nothing to fall back to: the first generation, and the {@code validate} command. */
    static final LastGood NONE = new LastGood(Map.of(), Map.of(), MeshConfigSpec.DEFAULT);

    LastGood(Map<String, Manifest> files, Map<ResourceKey, TranslatedObject> objects) {
        this(files, objects, MeshConfigSpec.DEFAULT);
    }

    LastGood {
        java.util.Objects.requireNonNull(meshConfig, "meshConfig");
        files = Map.copyOf(files);
        objects = Map.copyOf(objects);
    }
}
