package dev.waypoint.model.request;

/**
 * The telemetry side of tunnels: told when a TCP tunnel opens and when it ends (TCP tunnels run no filter list; HTTP requests
 * are observed by the {@code telemetry} filter instead). Implemented by the telemetry stage,
 * wired by the server into the listener. Called on the tunnel's event loop: must not block.
 */
public interface TunnelObserver {
    /** Observes nothing; answers CONNECTs without baggage. */
    TunnelObserver NONE = new TunnelObserver() {
        @Override
        public void tcpOpened(TunnelContext tunnel, TcpOutcome outcome) {}

        @Override
        public void tcpClosed(TunnelContext tunnel, TcpOutcome outcome) {}
    };

    /**
     * The tunnel's upstream attempt is over: connected (relaying starts), or refused (then
     * {@link #tcpClosed} follows at once). Once per tunnel.
     */
    void tcpOpened(TunnelContext tunnel, TcpOutcome outcome);

    /** The tunnel ended; {@code outcome} is closed. Once per tunnel, after {@link #tcpOpened}. */
    void tcpClosed(TunnelContext tunnel, TcpOutcome outcome);

    /**
     * The {@code baggage} header of every CONNECT answer (the waypoint's own workload metadata,
     * as a destination ztunnel answers with its pod's), or null for none.
     */
    default String connectBaggage() {
        return null;
    }
}
