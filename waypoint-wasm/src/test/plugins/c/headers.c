/* A test plugin against the raw proxy-wasm ABI 0.2.1 (0.2.0 with -DABI_0_2_0: then the host must
 * allocate through malloc, as Envoy does for such modules). One file covers what the tests need:
 *   request:  adds x-wasm-added (plugin config text), x-wasm-path (request.path property),
 *             x-wasm-source (source.address), x-wasm-root-id (plugin_root_id), x-wasm-node-ns
 *             (node.metadata.NAMESPACE); removes x-remove-me; x-deny -> local 403 with a header
 *             (grpc_status 16 with x-deny-grpc, else none);
 *             x-pause -> pause, resumed by the next tick with x-resumed: yes; x-trap -> trap;
 *             x-loop -> never returns; x-shared -> counts in shared data, sets x-shared-count;
 *             x-call: <cluster> -> proxy_http_call GET /called there, pause; the response's :status,
 *             x-echo-server and body size come back as x-call-status, x-call-server, x-call-body
 *             (x-call-error: <result> when the call cannot start, x-call-failed when it fails);
 *             x-grow -> tries to malloc 32 MiB, answers x-grow: yes or no
 *   response: adds x-wasm-response: yes and x-wasm-status (response.code), removes x-backend-secret
 *             and x-echo-method
 *   body:     upper-cases request and response bodies of requests with x-upper (buffered until
 *             the end of the stream)
 *   metrics:  counter wasm_test_requests, gauge wasm_test_inflight, histogram wasm_test_path_len
 *   wasi:     writes one line through wasi_unstable.fd_write at VM start */
#include "proxy_wasm_abi.h"
#include <stdlib.h>
#include <string.h>

#ifdef ABI_0_2_0
EXPORT(proxy_abi_version_0_2_0) void abi(void) {}
#else
EXPORT(proxy_abi_version_0_2_1) void abi(void) {}
EXPORT(proxy_on_memory_allocate) void *on_memory_allocate(size_t size) { return malloc(size); }
#endif

typedef struct { const void *buf; size_t len; } ciovec;
__attribute__((import_module("wasi_unstable"), import_name("fd_write")))
int32_t wasi_unstable_fd_write(int32_t fd, const ciovec *iovs, size_t n, size_t *written);

static char *config;
static size_t config_len;
static uint32_t requests, inflight, path_len;
static int32_t paused_context;

EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {}

EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t root, int32_t size) {
    ciovec line = {"headers plugin started\n", 23};
    size_t written;
    wasi_unstable_fd_write(1, &line, 1, &written);
    uint32_t token;
    if (proxy_grpc_stream(0, 0, 0, 0, 0, 0, 0, 0, &token) != 12) {
        return 0; /* expected Unimplemented */
    }
    proxy_define_metric(COUNTER, S("wasm_test_requests"), &requests);
    proxy_define_metric(GAUGE, S("wasm_test_inflight"), &inflight);
    proxy_define_metric(HISTOGRAM, S("wasm_test_path_len"), &path_len);
    return 1;
}

EXPORT(proxy_on_configure) int32_t on_configure(int32_t root, int32_t size) {
    if (size > 0 && proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, &config, &config_len) != OK) {
        return 0;
    }
    for (size_t i = 0; i + 6 <= config_len; i++) {
        if (memcmp(config + i, "reject", 6) == 0) {
            return 0; /* a config that says "reject": the plugin refuses it */
        }
    }
    return 1;
}

static int has(int32_t map, const char *name, size_t len) {
    char *v;
    size_t n;
    if (proxy_get_header_map_value(map, name, len, &v, &n) != OK) {
        return 0;
    }
    free(v);
    return 1;
}

static void copy_property(const char *path, size_t path_len_, const char *header, size_t header_len) {
    char *v;
    size_t n;
    if (proxy_get_property(path, path_len_, &v, &n) == OK) {
        proxy_add_header_map_value(REQUEST_HEADERS, header, header_len, v, n);
        free(v);
    }
}

EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t headers, int32_t eos) {
    proxy_increment_metric(requests, 1);
    proxy_increment_metric(inflight, 1);
    if (has(REQUEST_HEADERS, S("x-trap"))) {
        __builtin_trap();
    }
    if (has(REQUEST_HEADERS, S("x-loop"))) {
        volatile int spin = 1;
        while (spin) {
        }
    }
    if (has(REQUEST_HEADERS, S("x-deny"))) {
        /* one header: count 1, lengths 11 and 4, then "x-denied-by\0wasm\0" */
        static const char map[] = "\x01\0\0\0" "\x0b\0\0\0" "\x04\0\0\0" "x-denied-by\0" "wasm\0";
        /* x-deny-grpc: the plugin names the gRPC status itself (16, UNAUTHENTICATED) */
        int32_t grpc_status = has(REQUEST_HEADERS, S("x-deny-grpc")) ? 16 : -1;
        proxy_send_local_response(403, S("denied_by_wasm"), S("denied by a wasm plugin\n"), map, sizeof(map) - 1, grpc_status);
        return PAUSE;
    }
    proxy_add_header_map_value(REQUEST_HEADERS, S("x-wasm-added"), config_len ? config : "", config_len);
    proxy_remove_header_map_value(REQUEST_HEADERS, S("x-remove-me"));
    copy_property(S("request\0path"), S("x-wasm-path"));
    copy_property(S("source\0address"), S("x-wasm-source"));
    copy_property(S("plugin_root_id"), S("x-wasm-root-id"));
    copy_property(S("node\0metadata\0NAMESPACE"), S("x-wasm-node-ns"));
    char *path;
    size_t n;
    if (proxy_get_header_map_value(REQUEST_HEADERS, S(":path"), &path, &n) == OK) {
        proxy_record_metric(path_len, n);
        free(path);
    }
    if (has(REQUEST_HEADERS, S("x-shared"))) {
        char *v;
        size_t vn;
        uint32_t cas = 0;
        int count = 0;
        if (proxy_get_shared_data(S("count"), &v, &vn, &cas) == OK) {
            count = v[0];
            free(v);
        }
        char next = (char) (count + 1);
        proxy_set_shared_data(S("count"), &next, 1, cas);
        char digits[4] = {(char) ('0' + next % 10), 0};
        proxy_replace_header_map_value(REQUEST_HEADERS, S("x-shared-count"), digits, 1);
    }
    char *cluster;
    size_t cluster_len;
    if (proxy_get_header_map_value(REQUEST_HEADERS, S("x-call"), &cluster, &cluster_len) == OK) {
        /* three pairs: :method GET, :path /called, :authority web.apps */
        static const char map[] = "\x03\0\0\0" "\x07\0\0\0\x03\0\0\0" "\x05\0\0\0\x07\0\0\0" "\x0a\0\0\0\x08\0\0\0"
            ":method\0GET\0" ":path\0/called\0" ":authority\0web.apps\0";
        uint32_t token;
        int32_t r = proxy_http_call(cluster, cluster_len, map, sizeof(map) - 1, 0, 0, 0, 0, 5000, &token);
        free(cluster);
        if (r != OK) {
            char digits[4] = {(char) ('0' + r / 10 % 10), (char) ('0' + r % 10), 0};
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-call-error"), digits, 2);
            return CONTINUE;
        }
        return PAUSE;
    }
    if (has(REQUEST_HEADERS, S("x-grow"))) {
        /* 32 MiB: more than the host lets an instance grow to (16 MiB by default) */
        char *volatile big = malloc(32 << 20); /* volatile: the compiler may not drop the allocation */
        if (big) {
            big[(32 << 20) - 1] = 1;
        }
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-grow"), big ? "yes" : "no", big ? 3 : 2);
        free(big);
    }
    if (has(REQUEST_HEADERS, S("x-pause"))) {
        paused_context = id;
        proxy_set_tick_period_milliseconds(10);
        return PAUSE;
    }
    return CONTINUE;
}

EXPORT(proxy_on_tick) void on_tick(int32_t root) {
    if (paused_context) {
        int32_t id = paused_context;
        paused_context = 0;
        proxy_set_tick_period_milliseconds(0);
        proxy_set_effective_context(id);
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-resumed"), S("yes"));
        proxy_continue_stream(0);
    }
}

EXPORT(proxy_on_http_call_response) void on_http_call_response(int32_t id, int32_t token, int32_t headers,
                                                                int32_t body_size, int32_t trailers) {
    if (headers == 0) {
        proxy_add_header_map_value(REQUEST_HEADERS, S("x-call-failed"), S("yes"));
    } else {
        char *v;
        size_t n;
        if (proxy_get_header_map_value(6, S(":status"), &v, &n) == OK) {
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-call-status"), v, n);
            free(v);
        }
        if (proxy_get_header_map_value(6, S("x-echo-server"), &v, &n) == OK) {
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-call-server"), v, n);
            free(v);
        }
        if (body_size > 0 && proxy_get_buffer_bytes(4, 0, body_size, &v, &n) == OK) {
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-call-body"), v, n < 16 ? n : 16);
            free(v);
        }
    }
    proxy_continue_stream(0);
}

static int32_t upper_body(int32_t type, int32_t size, int32_t eos) {
    if (!has(REQUEST_HEADERS, S("x-upper"))) {
        return CONTINUE;
    }
    if (!eos) {
        return 1; /* StopIterationAndBuffer: wait for the whole body */
    }
    char *body;
    size_t n;
    if (proxy_get_buffer_bytes(type, 0, size, &body, &n) != OK) {
        return CONTINUE;
    }
    for (size_t i = 0; i < n; i++) {
        if (body[i] >= 'a' && body[i] <= 'z') {
            body[i] -= 32;
        }
    }
    proxy_set_buffer_bytes(type, 0, n, body, n);
    free(body);
    return CONTINUE;
}

EXPORT(proxy_on_request_body) int32_t on_request_body(int32_t id, int32_t size, int32_t eos) {
    return upper_body(REQUEST_BODY, size, eos);
}

EXPORT(proxy_on_response_body) int32_t on_response_body(int32_t id, int32_t size, int32_t eos) {
    return upper_body(RESPONSE_BODY, size, eos);
}

EXPORT(proxy_on_response_headers) int32_t on_response_headers(int32_t id, int32_t headers, int32_t eos) {
    proxy_add_header_map_value(RESPONSE_HEADERS, S("x-wasm-response"), S("yes"));
    proxy_remove_header_map_value(RESPONSE_HEADERS, S("x-backend-secret"));
    proxy_remove_header_map_value(RESPONSE_HEADERS, S("x-echo-method")); /* one the tests' echo backend sends */
    char *v;
    size_t n;
    if (proxy_get_property(S("response\0code"), &v, &n) == OK && n == 8) {
        char digits[4] = {(char) ('0' + (v[0] & 0xff) / 100 % 10), (char) ('0' + (v[0] & 0xff) / 10 % 10), (char) ('0' + (v[0] & 0xff) % 10), 0};
        /* status < 256 fits in the low byte; the tests use 200 */
        proxy_add_header_map_value(RESPONSE_HEADERS, S("x-wasm-status"), digits, 3);
        free(v);
    }
    return CONTINUE;
}

EXPORT(proxy_on_log) void on_log(int32_t id) {
    proxy_increment_metric(inflight, -1);
}

EXPORT(proxy_on_done) int32_t on_done(int32_t id) { return 1; }

EXPORT(proxy_on_delete) void on_delete(int32_t id) {}
