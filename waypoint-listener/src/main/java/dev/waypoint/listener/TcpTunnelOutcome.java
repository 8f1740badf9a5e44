package dev.waypoint.listener;

import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.request.TunnelObserver;
import io.netty.channel.Channel;

/**
 * One TCP tunnel's {@link TcpOutcome} and its two reports to the {@link TunnelObserver}: opened
 * once the upstream attempt is over, closed exactly once, when the tunnel's stream closes or at
 * once when the tunnel is refused. Made where a TCP tunnel is decided (the CONNECT handler for
 * declared TCP ports, the sniffer for undeclared ones).
 *
 * <h2>Threading</h2>
 * The tunnel's event loop.
 */
final class TcpTunnelOutcome {
    private final TunnelObserver observer;
    private final TunnelContext tunnel;
    private final TcpOutcome outcome;

    TcpTunnelOutcome(TunnelObserver observer, TunnelContext tunnel) {
        this.observer = observer;
        this.tunnel = tunnel;
        this.outcome = new TcpOutcome(System.nanoTime());
    }

    TcpOutcome outcome() {
        return outcome;
    }

    /** The tunnel will not relay: reported as opened and closed with {@code flags} and {@code details}. */
    void refused(String flags, String details) {
        if (outcome.closed()) {
            return;
        }
        outcome.flags(flags, details);
        observer.tcpOpened(tunnel, outcome);
        close();
    }

    /** The tunnel will not relay because of {@code rejection}. */
    void refused(Rejection rejection) {
        refused(rejection.reason().flag(), rejection.reason().code());
    }

    /** Relaying starts on {@code stream}; the outcome closes when it does. */
    void relaying(Channel stream) {
        observer.tcpOpened(tunnel, outcome);
        stream.closeFuture().addListener(f -> close());
    }

    private void close() {
        if (outcome.close(System.nanoTime())) {
            observer.tcpClosed(tunnel, outcome);
        }
    }
}
