package dev.waypoint.listener;

/** What runs inside an accepted tunnel, decided by the declared port protocol and the first bytes. */
public enum InnerProtocol {
    /** HTTP/1.1 (keep-alive, chunked; many requests per tunnel, one at a time). */
    HTTP1,
    /** HTTP/2 with prior knowledge (h2c), including gRPC. */
    HTTP2,
    /** Anything else: bytes relayed as they are. */
    TCP
}
