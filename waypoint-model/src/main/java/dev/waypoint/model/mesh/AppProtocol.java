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
        if (appProtocol != null && !appProtocol.isEmpty()) {
            AppProtocol p = parse(appProtocol.toLowerCase(Locale.ROOT));
            if (p != null) {
                return p;
            }
        }
        if (portName != null && !portName.isEmpty()) {
            String name = portName.toLowerCase(Locale.ROOT);
            int dash = name.indexOf('-');
            AppProtocol p = parse(dash < 0 ? name : name.substring(0, dash));
            if (p != null) {
                return p;
            }
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
