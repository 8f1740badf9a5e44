package dev.waypoint.transport;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;

/**
 * A TCP tunnel's own timeouts, from its destination's DestinationRule: {@code tcp.idleTimeout} and
 * {@code tcp.maxConnectionDuration}, which Istio's waypoint sets on the TCP proxy of each
 * destination ({@code listener_waypoint.go}: {@code tcpProxy.IdleTimeout},
 * {@code tcpProxy.MaxDownstreamConnectionDuration}). The upstream side sets them on the channel
 * it connects ({@link #KEY}); {@link Relay#start} applies them to the tunnel it relays.
 *
 * @param idleTimeout replaces the tunnel's idle timeout (no bytes either way this long: both ends
 *        reset); {@link Duration#ZERO}: never; null: the tunnel keeps the listener's (1 h, Envoy's
 *        TCP proxy default)
 * @param maxDuration the tunnel is closed (both ends reset) this long after it started relaying; null: no limit
 */
public record TunnelLimits(Duration idleTimeout, Duration maxDuration) {
    /** Where the upstream side leaves the limits for the relay: on the upstream channel. */
    public static final AttributeKey<TunnelLimits> KEY = AttributeKey.valueOf("waypoint.tunnelLimits");

    /** Nothing to apply: both unset. */
    public boolean none() {
        return idleTimeout == null && maxDuration == null;
    }

    /**
     * Applies the limits to the tunnel end {@code a} (the one whose pipeline has the tunnel's
     * {@link HandlerNames#IDLE} timer, or gets one before {@code beforeName}); closing {@code a}
     * resets the other end through the relay.
     */
    void apply(Channel a, String beforeName) {
        if (idleTimeout != null) {
            IdleTimeout timer = new IdleTimeout(idleTimeout);
            if (a.pipeline().get(HandlerNames.IDLE) != null) {
                a.pipeline().replace(HandlerNames.IDLE, HandlerNames.IDLE, timer);
            } else {
                a.pipeline().addBefore(beforeName, HandlerNames.IDLE, timer);
            }
        }
        if (maxDuration != null) {
            ScheduledFuture<?> end = a.eventLoop().schedule(() -> {
                a.close();
            }, maxDuration.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
            a.closeFuture().addListener(f -> end.cancel(false));
        }
    }
}
