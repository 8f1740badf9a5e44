package dev.waypoint.model.request;

/**
 * Carries a {@link Rejection} through a failed future (connects, stream opens). Stackless: it is
 * an expected outcome, not a bug.
 */
public final class RejectedException extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient Rejection rejection;

    public RejectedException(Rejection rejection) {
        super(rejection.toString(), null, false, false);
        this.rejection = rejection;
    }

    /** The rejection to answer with. */
    public Rejection rejection() {
        return rejection;
    }

    /** The rejection behind {@code cause}, or {@code fallback} with the cause's message. */
    public static Rejection of(Throwable cause, Rejection.Reason fallback) {
        if (cause instanceof RejectedException r) {
            return r.rejection();
        }
        String msg = cause == null ? "unknown" : cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new Rejection(fallback, msg);
    }
}
