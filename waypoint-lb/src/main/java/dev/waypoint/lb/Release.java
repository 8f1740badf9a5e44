package dev.waypoint.lb;

/**
 * How an exchange channel comes back to its {@link ExchangeChannels}: what the attempt knows of
 * the connection when it is done with it.
 */
enum Release {
    /** The exchange is complete and the connection may carry another one: it is pooled. */
    REUSE,
    /**
     * The exchange is complete (or never began) and the connection carries no other one: its
     * response said {@code Connection: close}, or it carried its {@code maxRequestsPerConnection}.
     * It ends as closing a TCP socket does: FIN, or {@code END_STREAM} on an HBONE tunnel, whose
     * destination ztunnel then half-closes toward the pod instead of resetting it.
     */
    END,
    /**
     * The exchange was cut short (a timeout, a reset, a cancelled request, a failed attempt): the
     * connection is closed at once, {@code RST_STREAM} on an HBONE tunnel or an inner HTTP/2 stream.
     */
    ABANDON;

    /** {@link #REUSE} when {@code reusable}, else {@link #END}: a complete exchange. */
    static Release completed(boolean reusable) {
        return reusable ? REUSE : END;
    }
}
