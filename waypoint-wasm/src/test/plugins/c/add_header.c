/* The smallest useful plugin, for the per-request cost benchmark (benchmarks' WasmPluginBench):
 * adds one request header and one response header, through the raw proxy-wasm ABI 0.2.1. */
#include "proxy_wasm_abi.h"
#include <stdlib.h>

EXPORT(proxy_abi_version_0_2_1) void abi(void) {}
EXPORT(proxy_on_memory_allocate) void *on_memory_allocate(size_t size) { return malloc(size); }
EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {}
EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t root, int32_t size) { return 1; }
EXPORT(proxy_on_configure) int32_t on_configure(int32_t root, int32_t size) { return 1; }

EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t headers, int32_t eos) {
    proxy_add_header_map_value(REQUEST_HEADERS, S("x-wasm"), S("added"));
    return CONTINUE;
}

EXPORT(proxy_on_response_headers) int32_t on_response_headers(int32_t id, int32_t headers, int32_t eos) {
    proxy_add_header_map_value(RESPONSE_HEADERS, S("x-wasm-response"), S("added"));
    return CONTINUE;
}

EXPORT(proxy_on_done) int32_t on_done(int32_t id) { return 1; }
