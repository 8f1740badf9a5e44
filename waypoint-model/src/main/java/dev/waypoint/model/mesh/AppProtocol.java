package dev.waypoint.model.mesh;

import java.util.Locale;

/**
 * The application protocol a Service port declares, as Istio reads it: {@code appProtocol} wins,
 * then the port name's prefix before {@code -}; otherwise {@link #AUTO} (sniffed), except for a
 * few well-known server-first ports that default to TCP.
 * (istio {@code pkg/config/kube/conversion.go}, {@code pkg/config/protocol/instance.go})
 */
public enum AppProtocol {
    /** HTTP/1.1 (or h2c if the client speaks it). */
    HTTP,
    /** HTTP/2 cleartext. */
    HTTP2,
    /** gRPC: HTTP/2. */
    GRPC,
    /** Opaque TCP (also TLS, HTTPS, databases: anything the waypoint must not parse). */
    TCP,
    /** Not declared: sniff the first bytes. */
    AUTO;

    /** Whether requests on this port are parsed as HTTP. */
    public boolean isHttp() {
        return this == HTTP || this == HTTP2 || this == GRPC;
    }

    /** Whether the upstream should speak HTTP/2. */
    public boolean isH2() {
        return this == HTTP2 || this == GRPC;
    }

    /**
     * The declared protocol of a Service port.
     *
     * @param appProtocol {@code spec.ports[].appProtocol}, or null
     * @param portName {@code spec.ports[].name}, or null
     * @param port the port number
     */
    public static AppProtocol declared(String appProtocol, String portName, int port) {
        // "If application protocol is set, we will use that. If not, use the port name"
        // (istio ConvertProtocol): an unknown appProtocol does not fall back to the name
        String name = appProtocol != null && !appProtocol.isEmpty() ? appProtocol : portName;
        AppProtocol p = null;
        if (name != null && !name.isEmpty()) {
            name = name.toLowerCase(Locale.ROOT);
            // "grpc-web" contains a hyphen: checked before the prefix rule
            if (name.startsWith("grpc-web")) {
                return HTTP;
            }
            int dash = name.indexOf('-');
            p = parse(dash < 0 || name.contains("/") ? name : name.substring(0, dash));
        }
        if (p != null) {
            return p;
        }
        // "Unknown/unnamed → auto-detect, except ports 25, 53, 3306, 27017 which default to TCP"
        return switch (port) {
            case 25, 53, 3306, 27017 -> TCP;
            default -> AUTO;
        };
    }

    private static AppProtocol parse(String p) {
        return switch (p) {
            case "http", "grpc-web", "kubernetes.io/ws", "http/1.1" -> HTTP;
            case "http2", "kubernetes.io/h2c", "h2c" -> HTTP2;
            case "grpc" -> GRPC;
            case "tcp", "tls", "https", "kubernetes.io/wss", "mongo", "redis", "mysql", "hbone" -> TCP;
            default -> null;
        };
    }
}
