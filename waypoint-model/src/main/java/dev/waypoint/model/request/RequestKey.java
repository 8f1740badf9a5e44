package dev.waypoint.model.request;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A typed slot of {@link RequestContext}, in the style of Netty's {@code AttributeKey}: a stage
 * declares a constant once ({@code RequestKey.of("authz.decision", AuthzDecision.class)}) and
 * writes its decision there; later stages and telemetry read it. Keys are few and static.
 *
 * @param <T> the value type
 */
public final class RequestKey<T> {
    private static final AtomicInteger IDS = new AtomicInteger();
    private static final java.util.List<RequestKey<?>> ALL = new java.util.concurrent.CopyOnWriteArrayList<>();

    private final String name;
    private final Class<T> type;
    private final int id;

    private RequestKey(String name, Class<T> type) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
        this.id = IDS.getAndIncrement();
        ALL.add(this);
    }

    /** Every key made so far, in creation order. */
    static java.util.List<RequestKey<?>> all() {
        return ALL;
    }

    /** A new key; declare it once as a constant. */
    public static <T> RequestKey<T> of(String name, Class<T> type) {
        return new RequestKey<>(name, type);
    }

    /** The slot's name, also used in logs. */
    public String name() {
        return name;
    }

    int id() {
        return id;
    }

    /** How many keys exist so far: the slot array a request starts with (keys are constants, made at class load). */
    static int count() {
        return IDS.get();
    }

    T cast(Object value) {
        return type.cast(value);
    }

    @Override
    public String toString() {
        return name;
    }
}
