package dev.waypoint.model.request;

/**
 * What a CONNECT {@code :authority} resolves to against one snapshot: a {@link Target} this
 * waypoint serves, or the {@link Rejection} saying why not. Sealed so a {@code switch} or
 * {@code instanceof} chain over it is complete; resolving allocates nothing on success.
 */
public sealed interface TargetResolution permits Target, Rejection {}
