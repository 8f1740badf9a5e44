package dev.waypoint.model;

import java.util.Objects;

/**
 * Typed key of one compiled part of a {@link ConfigSnapshot}, in the style of Netty's
 * {@code AttributeKey}: a stage module declares {@code public static final SnapshotPart<RouteTable> PART}
 * and reads its part with {@code snapshot.part(RouteTable.PART)}. Identity-compared.
 *
 * @param <T> the part's type
 */
public final class SnapshotPart<T> {
    private final String name;
    private final Class<T> type;

    private SnapshotPart(String name, Class<T> type) {
        this.name = name;
        this.type = type;
    }

    /** A new key; call once per part, into a {@code static final} field. */
    public static <T> SnapshotPart<T> of(String name, Class<T> type) {
        return new SnapshotPart<>(Objects.requireNonNull(name, "name"), Objects.requireNonNull(type, "type"));
    }

    /** The part's name, as shown in the config dump. */
    public String name() {
        return name;
    }

    T cast(Object value) {
        return type.cast(value);
    }

    @Override
    public String toString() {
        return name;
    }
}
