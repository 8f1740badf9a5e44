package dev.waypoint.transport;

/**
 * Names of the handlers in every pipeline of the data path, in one place, so that a handler
 * inserted relative to another ({@code addBefore(HandlerNames.TUNNEL, ...)}) and a test that
 * inspects a pipeline agree. Inbound HBONE connection: {@code tls → alpn} then
 * {@code tls → flush → idle → idle-close → h2 → mux → streams}; each CONNECT stream: {@code connect}, replaced on
 * acceptance by {@code tunnel → idle → lifecycle →} ({@code relay} | {@code sniff} →
 * {@code h1 → exchange} | {@code h2c → streams}, each inner stream {@code h2-http → exchange}); after a WebSocket
 * upgrade an HTTP/1.1 tunnel ends in {@code held → relay} ({@code held} gone once the relay reads).
 */
public final class HandlerNames {
    private HandlerNames() {}

    public static final String TLS = "tls";
    public static final String ALPN = "alpn";
    /**
     * Netty's {@code FlushConsolidationHandler} between TLS and HTTP/2 on every HBONE connection: the
     * flushes of all streams in one event-loop turn become one TLS wrap and one {@code sendto}.
     */
    public static final String FLUSH = "flush";
    /** {@link StreamErrorLimit}, after the server's HTTP/2 codec. */
    public static final String STREAM_ERRORS = "stream-errors";
    public static final String IDLE = "idle";
    public static final String IDLE_CLOSE = "idle-close";
    public static final String H2 = "h2";
    public static final String MUX = "mux";
    /** {@link ChildStreams}: closes the stream channels still open when their connection goes away. */
    public static final String STREAMS = "streams";
    /** The first handler of an inbound CONNECT stream. */
    public static final String CONNECT = "connect";
    /** {@link TunnelFrameAdapter}: DATA frames to bytes and back. */
    public static final String TUNNEL = "tunnel";
    /** Ends idle tunnels and starts their graceful end on drain or unbinding. */
    public static final String LIFECYCLE = "lifecycle";
    public static final String SNIFF = "sniff";
    /** {@link Relay}'s handler on both ends of a TCP tunnel. */
    public static final String RELAY = "relay";
    /** Inner HTTP/1.1 server codec. */
    public static final String H1 = "h1";
    /** Inner HTTP/2 (h2c) codec. */
    public static final String H2C = "h2c";
    /** Per inner HTTP/2 stream: frames to HTTP objects. */
    public static final String H2_HTTP = "h2-http";
    /** The request exchange handler behind the inner codec. */
    public static final String EXCHANGE = "exchange";
    /** {@link HeldBytes}: bytes read past an HTTP/1.1 upgrade, kept until the relay starts. */
    public static final String HELD = "held";
}
