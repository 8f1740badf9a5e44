/* The proxy-wasm ABI 0.2.1 host functions these test plugins call, declared from the spec
 * (proxy-wasm/spec abi-versions/v0.2.1/README.md); no SDK. */
#ifndef PROXY_WASM_ABI_H
#define PROXY_WASM_ABI_H
#include <stddef.h>
#include <stdint.h>

#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

enum { OK = 0, NOT_FOUND = 1 };
enum { REQUEST_HEADERS = 0, REQUEST_TRAILERS = 1, RESPONSE_HEADERS = 2, RESPONSE_TRAILERS = 3 };
enum { REQUEST_BODY = 0, RESPONSE_BODY = 1, VM_CONFIGURATION = 6, PLUGIN_CONFIGURATION = 7 };
enum { CONTINUE = 0, PAUSE = 1 };
enum { COUNTER = 0, GAUGE = 1, HISTOGRAM = 2 };

IMPORT(proxy_log) int32_t proxy_log(int32_t level, const char *msg, size_t size);
IMPORT(proxy_get_current_time_nanoseconds) int32_t proxy_get_current_time_nanoseconds(uint64_t *t);
IMPORT(proxy_set_tick_period_milliseconds) int32_t proxy_set_tick_period_milliseconds(int32_t ms);
IMPORT(proxy_get_property) int32_t proxy_get_property(const char *path, size_t path_size, char **value, size_t *value_size);
IMPORT(proxy_get_buffer_bytes) int32_t proxy_get_buffer_bytes(int32_t type, size_t start, size_t max, char **data, size_t *size);
IMPORT(proxy_set_buffer_bytes) int32_t proxy_set_buffer_bytes(int32_t type, size_t start, size_t size, const char *data, size_t data_size);
IMPORT(proxy_get_header_map_value) int32_t proxy_get_header_map_value(int32_t type, const char *key, size_t key_size, char **value, size_t *value_size);
IMPORT(proxy_add_header_map_value) int32_t proxy_add_header_map_value(int32_t type, const char *key, size_t key_size, const char *value, size_t value_size);
IMPORT(proxy_replace_header_map_value) int32_t proxy_replace_header_map_value(int32_t type, const char *key, size_t key_size, const char *value, size_t value_size);
IMPORT(proxy_remove_header_map_value) int32_t proxy_remove_header_map_value(int32_t type, const char *key, size_t key_size);
IMPORT(proxy_get_header_map_pairs) int32_t proxy_get_header_map_pairs(int32_t type, char **data, size_t *size);
IMPORT(proxy_send_local_response) int32_t proxy_send_local_response(int32_t status, const char *details, size_t details_size,
    const char *body, size_t body_size, const char *headers, size_t headers_size, int32_t grpc_status);
IMPORT(proxy_continue_stream) int32_t proxy_continue_stream(int32_t stream);
IMPORT(proxy_set_effective_context) int32_t proxy_set_effective_context(int32_t id);
IMPORT(proxy_define_metric) int32_t proxy_define_metric(int32_t type, const char *name, size_t size, uint32_t *id);
IMPORT(proxy_increment_metric) int32_t proxy_increment_metric(uint32_t id, int64_t offset);
IMPORT(proxy_record_metric) int32_t proxy_record_metric(uint32_t id, uint64_t value);
IMPORT(proxy_get_shared_data) int32_t proxy_get_shared_data(const char *key, size_t key_size, char **value, size_t *value_size, uint32_t *cas);
IMPORT(proxy_set_shared_data) int32_t proxy_set_shared_data(const char *key, size_t key_size, const char *value, size_t value_size, uint32_t cas);
IMPORT(proxy_http_call) int32_t proxy_http_call(const char *upstream, size_t upstream_size, const char *headers,
    size_t headers_size, const char *body, size_t body_size, const char *trailers, size_t trailers_size,
    uint32_t timeout_ms, uint32_t *token);
IMPORT(proxy_grpc_call) int32_t proxy_grpc_call(const char *service, size_t service_size, const char *service_name,
    size_t service_name_size, const char *method, size_t method_size, const char *metadata, size_t metadata_size,
    const char *message, size_t message_size, uint32_t timeout_ms, uint32_t *token);
IMPORT(proxy_register_shared_queue) int32_t proxy_register_shared_queue(const char *name, size_t size, uint32_t *token);
IMPORT(proxy_resolve_shared_queue) int32_t proxy_resolve_shared_queue(const char *vm_id, size_t vm_id_size, const char *name,
    size_t size, uint32_t *token);
IMPORT(proxy_enqueue_shared_queue) int32_t proxy_enqueue_shared_queue(uint32_t token, const char *data, size_t size);
IMPORT(proxy_dequeue_shared_queue) int32_t proxy_dequeue_shared_queue(uint32_t token, char **data, size_t *size);
IMPORT(proxy_get_status) int32_t proxy_get_status(uint32_t *code, char **message, size_t *message_size);
/* never implemented by the waypoint: must answer Unimplemented, not refuse the module */
IMPORT(proxy_grpc_stream) int32_t proxy_grpc_stream(const char *a, size_t b, const char *c, size_t d, const char *e, size_t f,
    const char *g, size_t h, uint32_t *token);

#define S(s) s, sizeof(s) - 1
#endif
