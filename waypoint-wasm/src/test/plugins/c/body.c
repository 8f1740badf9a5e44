/* A test plugin for bodies on the data path, against the raw proxy-wasm ABI 0.2.1. What it does is
 * chosen by its plugin configuration (the JSON text Istio passes):
 *   "request"  holds the request body until the end of the stream (answers Pause to every earlier
 *              piece), then replaces it with "<body>|chunks=N|request rewritten by wasm\n" (N: how
 *              many body callbacks it saw): the length changes
 *   "response" the same for the response body: "<body>|chunks=N|response rewritten by wasm\n"
 *   "stream"   upper-cases each piece of both bodies as it passes (never holds anything)
 *   "deny"     answers the request body with a local 400 once the body contains "forbidden"
 *   "grpc"     with x-grpc-cluster: <cluster> (and x-grpc-service/x-grpc-method, default
 *              echo.Echo/Say), calls it with proxy_grpc_call (message "ping") and pauses; resumes
 *              with x-grpc-reply: <message> (on_grpc_receive) or x-grpc-status: <code> and
 *              x-grpc-message (on_grpc_close, from proxy_get_status); x-grpc-error: <result> when
 *              the call cannot start */
#include "proxy_wasm_abi.h"
#include <stdlib.h>
#include <string.h>

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}
EXPORT(proxy_on_memory_allocate) void *on_memory_allocate(size_t size) { return malloc(size); }

static char *config;
static size_t config_len;
static int32_t request_chunks, response_chunks;

static int mode(const char *word) {
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= config_len; i++) {
        if (memcmp(config + i, word, n) == 0) {
            return 1;
        }
    }
    return 0;
}

EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {
    if (parent != 0) { /* a new HTTP context: requests on one VM run one at a time in the tests */
        request_chunks = 0;
        response_chunks = 0;
    }
}
EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t root, int32_t size) { return 1; }
EXPORT(proxy_on_configure) int32_t on_configure(int32_t root, int32_t size) {
    return size == 0 || proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, &config, &config_len) == OK;
}

static int32_t rewrite(int32_t type, int32_t size, int32_t eos, int32_t chunks, const char *what, size_t what_len) {
    if (!eos) {
        return PAUSE; /* StopIterationAndBuffer: the next callback sees everything so far */
    }
    char *body = 0;
    size_t n = 0;
    if (size > 0 && proxy_get_buffer_bytes(type, 0, size, &body, &n) != OK) {
        return CONTINUE;
    }
    char digits[12];
    int d = 0;
    int32_t c = chunks;
    char rev[12];
    do { rev[d++] = (char) ('0' + c % 10); c /= 10; } while (c > 0);
    for (int i = 0; i < d; i++) digits[i] = rev[d - 1 - i];
    size_t out_len = 1 + n + 1 + 8 + d + 1 + what_len;
    char *out = malloc(out_len);
    size_t o = 0;
    out[o++] = '<';
    memcpy(out + o, body, n); o += n;
    out[o++] = '>';
    memcpy(out + o, "|chunks=", 8); o += 8;
    memcpy(out + o, digits, d); o += d;
    out[o++] = '|';
    memcpy(out + o, what, what_len); o += what_len;
    proxy_set_buffer_bytes(type, 0, n, out, o);
    free(out);
    free(body);
    return CONTINUE;
}

static int32_t upper(int32_t type, int32_t size) {
    char *body;
    size_t n;
    if (size > 0 && proxy_get_buffer_bytes(type, 0, size, &body, &n) == OK) {
        for (size_t i = 0; i < n; i++) {
            if (body[i] >= 'a' && body[i] <= 'z') body[i] -= 32;
        }
        proxy_set_buffer_bytes(type, 0, n, body, n);
        free(body);
    }
    return CONTINUE;
}

EXPORT(proxy_on_request_body) int32_t on_request_body(int32_t id, int32_t size, int32_t eos) {
    request_chunks++;
    if (mode("deny")) {
        char *body;
        size_t n;
        if (size > 0 && proxy_get_buffer_bytes(REQUEST_BODY, 0, size, &body, &n) == OK) {
            for (size_t i = 0; i + 9 <= n; i++) {
                if (memcmp(body + i, "forbidden", 9) == 0) {
                    proxy_send_local_response(400, S("body_denied"), S("the body says forbidden\n"), 0, 0, -1);
                    return PAUSE;
                }
            }
        }
        return eos ? CONTINUE : PAUSE;
    }
    if (mode("stream")) {
        return upper(REQUEST_BODY, size);
    }
    if (mode("request")) {
        return rewrite(REQUEST_BODY, size, eos, request_chunks, S("request rewritten by wasm\n"));
    }
    return CONTINUE;
}

EXPORT(proxy_on_response_body) int32_t on_response_body(int32_t id, int32_t size, int32_t eos) {
    response_chunks++;
    if (mode("stream")) {
        return upper(RESPONSE_BODY, size);
    }
    if (mode("response")) {
        return rewrite(RESPONSE_BODY, size, eos, response_chunks, S("response rewritten by wasm\n"));
    }
    return CONTINUE;
}

static void header_or(const char *name, size_t len, const char *dflt, char **v, size_t *n) {
    if (proxy_get_header_map_value(REQUEST_HEADERS, name, len, v, n) != OK) {
        *v = (char *) dflt;
        *n = strlen(dflt);
    }
}

EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t headers, int32_t eos) {
    char *cluster;
    size_t cluster_len;
    if (!mode("grpc") || proxy_get_header_map_value(REQUEST_HEADERS, S("x-grpc-cluster"), &cluster, &cluster_len) != OK) {
        return CONTINUE;
    }
    char *service, *method;
    size_t service_len, method_len;
    header_or(S("x-grpc-service"), "echo.Echo", &service, &service_len);
    header_or(S("x-grpc-method"), "Say", &method, &method_len);
    uint32_t token;
    int32_t r = proxy_grpc_call(cluster, cluster_len, service, service_len, method, method_len, 0, 0, S("ping"), 5000, &token);
    if (r != OK) {
        char digits[2] = {(char) ('0' + r / 10 % 10), (char) ('0' + r % 10)};
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-grpc-error"), digits, 2);
        return CONTINUE;
    }
    return PAUSE;
}

EXPORT(proxy_on_grpc_receive) void on_grpc_receive(int32_t id, uint32_t token, size_t size) {
    char *v;
    size_t n;
    if (proxy_get_buffer_bytes(5, 0, size, &v, &n) == OK) {
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-grpc-reply"), v, n);
    }
    proxy_continue_stream(0);
}

EXPORT(proxy_on_grpc_close) void on_grpc_close(int32_t id, uint32_t token, uint32_t status) {
    uint32_t code;
    char *msg;
    size_t n;
    if (proxy_get_status(&code, &msg, &n) == OK && code == status) {
        char digits[2] = {(char) ('0' + code / 10 % 10), (char) ('0' + code % 10)};
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-grpc-status"), digits, 2);
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-grpc-message"), msg, n);
    }
    proxy_continue_stream(0);
}

EXPORT(proxy_on_done) int32_t on_done(int32_t id) { return 1; }
