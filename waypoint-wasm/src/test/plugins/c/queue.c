/* Shared queues against the raw proxy-wasm ABI 0.2.1: the VM registers "wasm_test_queue" at start
 * (the last VM to register owns it); a request with x-enqueue: <v> resolves the queue by name and
 * enqueues v (x-enqueued: <result>); proxy_on_queue_ready dequeues everything (until Empty) and
 * appends it to the shared data key "dequeued"; a request with x-dequeued gets that value back as
 * x-dequeued-value. x-bad-token enqueues on token 9999 (x-enqueued: the result, NotFound). */
#include "proxy_wasm_abi.h"
#include <stdlib.h>
#include <string.h>

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}
EXPORT(proxy_on_memory_allocate) void *on_memory_allocate(size_t size) { return malloc(size); }
EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {}
EXPORT(proxy_on_configure) int32_t on_configure(int32_t root, int32_t size) { return 1; }

static uint32_t owned;

EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t root, int32_t size) {
    return proxy_register_shared_queue(S("wasm_test_queue"), &owned) == OK;
}

static void result_header(const char *name, size_t len, int32_t r) {
    char d = (char) ('0' + r % 10);
    proxy_add_header_map_value(REQUEST_HEADERS, name, len, &d, 1);
}

EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t headers, int32_t eos) {
    char *v;
    size_t n;
    if (proxy_get_header_map_value(REQUEST_HEADERS, S("x-enqueue"), &v, &n) == OK) {
        uint32_t token;
        int32_t r = proxy_resolve_shared_queue(S(""), S("wasm_test_queue"), &token);
        if (r == OK) {
            r = proxy_enqueue_shared_queue(token, v, n);
        }
        result_header(S("x-enqueued"), r);
    }
    if (proxy_get_header_map_value(REQUEST_HEADERS, S("x-bad-token"), &v, &n) == OK) {
        result_header(S("x-enqueued"), proxy_enqueue_shared_queue(9999, S("lost")));
    }
    if (proxy_get_header_map_value(REQUEST_HEADERS, S("x-dequeued"), &v, &n) == OK) {
        uint32_t cas;
        if (proxy_get_shared_data(S("dequeued"), &v, &n, &cas) == OK) {
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-dequeued-value"), v, n);
        } else {
            proxy_add_header_map_value(REQUEST_HEADERS, S("x-dequeued-value"), S("none"));
        }
    }
    return CONTINUE;
}

EXPORT(proxy_on_queue_ready) void on_queue_ready(int32_t root, uint32_t token) {
    char *item;
    size_t n;
    while (proxy_dequeue_shared_queue(token, &item, &n) == OK) {
        char *old = 0;
        size_t old_n = 0;
        uint32_t cas = 0;
        proxy_get_shared_data(S("dequeued"), &old, &old_n, &cas);
        char *joined = malloc(old_n + 1 + n);
        size_t j = 0;
        if (old_n) {
            memcpy(joined, old, old_n);
            j = old_n;
            joined[j++] = ',';
        }
        memcpy(joined + j, item, n);
        j += n;
        proxy_set_shared_data(S("dequeued"), joined, j, cas);
        free(joined);
        free(item);
        if (old) free(old);
    }
}

EXPORT(proxy_on_done) int32_t on_done(int32_t id) { return 1; }
