package dev.waypoint.ca;

/** gRPC status code names, for messages ({@code grpc/doc/statuscodes.md}). */
final class GrpcStatus {
    private static final String[] NAMES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

    private GrpcStatus() {}

    static String name(int code) {
        return code >= 0 && code < NAMES.length ? code + " " + NAMES[code] : code + " (unknown status)";
    }
}
