package dev.waypoint.model.request;

import dev.waypoint.model.ConfigSnapshot;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * One request, from its head to its outcome: what every stage reads and writes. Built by the
 * exchange handler when the request's turn comes (for HTTP/1.1 only after every earlier request
 * on the tunnel has been answered), never shared between requests.
 *
 * <ul>
 *   <li>{@link #tunnel()}: the connection facts (peer identity, source address, trace context);</li>
 *   <li>{@link #snapshot()}: the config generation pinned for this request: every stage of this
 *       request reads this one (STYLE rule 1), the next request reads whatever is current then;</li>
 *   <li>{@link #target()}: the CONNECT authority resolved against that snapshot;</li>
 *   <li>{@link #attributes()}: the read-only view matchers evaluate;</li>
 *   <li>{@link #outcome()}: closed exactly once, however the request ends;</li>
 *   <li>typed slots ({@link #set}/{@link #get}) through which a stage hands its decision on.</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * Confined to the event loop of the request's channel. A paused filter that completes elsewhere
 * must come back to that loop before touching the context (the filter chain does this).
 */
public final class RequestContext {
    private final TunnelContext tunnel;
    private final ConfigSnapshot snapshot;
    private final Target target;
    private final RequestAttributes attributes;
    private final HeadersView requestHeaders;
    private final RequestOutcome outcome;
    private final Consumer<String> pathWriter;
    private Object[] slots;

    /** A request whose path cannot be rewritten ({@link #setPath} throws): for stages and tests that never do. */
    public RequestContext(TunnelContext tunnel, ConfigSnapshot snapshot, Target target, RequestAttributes attributes,
                          HeadersView requestHeaders, RequestOutcome outcome) {
        this(tunnel, snapshot, target, attributes, requestHeaders, outcome, p -> {
            throw new UnsupportedOperationException("the request path cannot be rewritten here");
        });
    }

    /**
     * @param pathWriter replaces the request target of the message being forwarded (HTTP/1.1 request
     *        line, {@code :path} of h2c); {@link RequestAttributes#path()} reads the new value afterwards
     */
    public RequestContext(TunnelContext tunnel, ConfigSnapshot snapshot, Target target, RequestAttributes attributes,
                          HeadersView requestHeaders, RequestOutcome outcome, Consumer<String> pathWriter) {
        this.pathWriter = Objects.requireNonNull(pathWriter, "pathWriter");
        this.tunnel = Objects.requireNonNull(tunnel, "tunnel");
        this.snapshot = Objects.requireNonNull(snapshot, "snapshot");
        this.target = Objects.requireNonNull(target, "target");
        this.attributes = Objects.requireNonNull(attributes, "attributes");
        this.requestHeaders = Objects.requireNonNull(requestHeaders, "requestHeaders");
        this.outcome = Objects.requireNonNull(outcome, "outcome");
    }

    /** The tunnel this request arrived on. */
    public TunnelContext tunnel() {
        return tunnel;
    }

    /** The config generation pinned for this request. */
    public ConfigSnapshot snapshot() {
        return snapshot;
    }

    /** The Service port or Pod the tunnel addresses, in this request's snapshot. */
    public Target target() {
        return target;
    }

    /** What matchers read. */
    public RequestAttributes attributes() {
        return attributes;
    }

    /** The request headers to forward; stages that add or rewrite headers write here. */
    public HeadersView requestHeaders() {
        return requestHeaders;
    }

    /**
     * Rewrites the request's path (with its query): what later stages match and what is forwarded.
     * The path is not a header in HTTP/1.1, so it has its own writer. Used by path normalization,
     * which runs before any policy looks at the path.
     */
    public void setPath(String path) {
        pathWriter.accept(Objects.requireNonNull(path, "path"));
    }

    /** How the request ends; closed by the exchange handler. */
    public RequestOutcome outcome() {
        return outcome;
    }

    /**
     * Writes a stage's decision into {@code key}'s slot: once per request.
     *
     * @throws IllegalStateException if the slot was already written (two stages claiming one decision is a bug)
     */
    public <T> void set(RequestKey<T> key, T value) {
        Objects.requireNonNull(value, key.name());
        int id = key.id();
        if (slots == null) {
            slots = new Object[Math.max(RequestKey.count(), id + 1)];
        } else if (id >= slots.length) {
            slots = Arrays.copyOf(slots, id + 8);
        }
        if (slots[id] != null) {
            throw new IllegalStateException("request slot " + key + " already set");
        }
        slots[id] = value;
    }

    /** The value in {@code key}'s slot, or null if no stage wrote it. */
    public <T> T get(RequestKey<T> key) {
        int id = key.id();
        return slots == null || id >= slots.length ? null : key.cast(slots[id]);
    }

    /** Every written slot as {@code name -> value}, in key order (for {@code explain} and debugging; not the data path). */
    public java.util.Map<String, Object> slots() {
        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
        if (slots != null) {
            for (RequestKey<?> key : RequestKey.all()) {
                if (key.id() < slots.length && slots[key.id()] != null) {
                    out.put(key.name(), slots[key.id()]);
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return attributes.method() + " " + attributes.path() + " -> " + target.authority() + " (generation "
                + snapshot.generation() + ")";
    }
}
