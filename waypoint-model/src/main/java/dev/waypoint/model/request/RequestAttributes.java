package dev.waypoint.model.request;

import dev.waypoint.model.mesh.SpiffeId;
import java.net.InetSocketAddress;

/**
 * The read-only view of one request that matchers evaluate (authz rules, route matches, wasm
 * properties): no Netty types, nothing to parse twice. Values are as received, after path
 * normalization where a stage applies one.
 */
public interface RequestAttributes {
    /** {@code GET}, {@code POST}, ... */
    String method();

    /** The path with its query, as in the request target or {@code :path}. */
    String path();

    /** {@code Host} or {@code :authority}; may be null for an HTTP/1.0 request without Host. */
    String host();

    /** {@code http} (h2c and HTTP/1.1 inside the tunnel are cleartext to the app). */
    String scheme();

    /** {@code HTTP/1.1}, {@code HTTP/1.0} or {@code HTTP/2}. */
    String protocol();

    /** Whether the request is gRPC ({@code content-type: application/grpc*}). */
    boolean grpc();

    /** The request headers, read-only by contract: stages that rewrite use {@link RequestContext#requestHeaders()}. */
    HeadersView headers();

    /** The HBONE peer's SPIFFE ID (the source workload), or null if it presented none. */
    SpiffeId sourcePrincipal();

    /** The original client ({@code forwarded} from the source ztunnel, else the HBONE peer), or null. */
    InetSocketAddress sourceAddress();

    /** The CONNECT {@code :authority}: the Service VIP or Pod IP and port the client addressed. */
    InetSocketAddress destinationAddress();
}
