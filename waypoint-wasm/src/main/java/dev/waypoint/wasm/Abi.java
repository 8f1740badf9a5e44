package dev.waypoint.wasm;

/**
 * The numbers of the proxy-wasm ABI 0.2.x (proxy-wasm/spec {@code abi-versions/v0.2.1}), as the
 * host and the plugin exchange them.
 */
final class Abi {
    private Abi() {}

    // WasmResult
    static final int OK = 0;
    static final int NOT_FOUND = 1;
    static final int BAD_ARGUMENT = 2;
    static final int SERIALIZATION_FAILURE = 3;
    static final int INVALID_MEMORY_ACCESS = 6;
    static final int EMPTY = 7;
    static final int CAS_MISMATCH = 8;
    static final int INTERNAL_FAILURE = 10;
    static final int UNIMPLEMENTED = 12;

    // WasmHeaderMapType
    static final int REQUEST_HEADERS = 0;
    static final int REQUEST_TRAILERS = 1;
    static final int RESPONSE_HEADERS = 2;
    static final int RESPONSE_TRAILERS = 3;
    static final int HTTP_CALL_RESPONSE_HEADERS = 6;
    static final int HTTP_CALL_RESPONSE_TRAILERS = 7;

    // WasmBufferType
    static final int HTTP_REQUEST_BODY = 0;
    static final int HTTP_RESPONSE_BODY = 1;
    static final int HTTP_CALL_RESPONSE_BODY = 4;
    static final int GRPC_RECEIVE_BUFFER = 5;
    static final int VM_CONFIGURATION = 6;
    static final int PLUGIN_CONFIGURATION = 7;

    // WasmStreamType
    static final int STREAM_REQUEST = 0;
    static final int STREAM_RESPONSE = 1;

    // FilterHeadersStatus / FilterDataStatus / FilterTrailersStatus: 0 is Continue, anything else stops
    static final int ACTION_CONTINUE = 0;

    // MetricType
    static final int METRIC_COUNTER = 0;
    static final int METRIC_GAUGE = 1;
    static final int METRIC_HISTOGRAM = 2;

    // LogLevel
    static final int LOG_TRACE = 0;
    static final int LOG_DEBUG = 1;
    static final int LOG_INFO = 2;
    static final int LOG_WARN = 3;
    static final int LOG_ERROR = 4;
    static final int LOG_CRITICAL = 5;
}
