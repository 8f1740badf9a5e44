package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;

/** A manifest of a kind no stage reads yet: kept (later stages will) and ignored. */
public record OtherResource(String apiVersion, String kind, NamespacedName name, SourceRef source) {}
