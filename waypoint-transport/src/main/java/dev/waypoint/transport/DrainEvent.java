package dev.waypoint.transport;

/**
 * User event fired on every open tunnel when the process starts draining (SIGTERM): finish what
 * is in flight, accept nothing new, then end. HTTP/1.1 tunnels end after the current response
 * ({@code Connection: close}); inner HTTP/2 connections get GOAWAY; TCP tunnels run until they end
 * or the drain timeout passes.
 */
public final class DrainEvent {
    /** The one instance. */
    public static final DrainEvent INSTANCE = new DrainEvent();

    private DrainEvent() {}

    @Override
    public String toString() {
        return "DrainEvent";
    }
}
