// A test plugin written with a real proxy-wasm SDK: AssemblyScript 0.14 and @solo-io/proxy-runtime
// 0.1.8, which emits ABI 0.2.0 and exports malloc (no proxy_on_memory_allocate), finds its root
// context through the plugin_root_id property, and imports WASI. Request: adds x-as-added (the
// plugin configuration), removes x-as-remove, x-as-deny -> local 401; response: adds
// x-as-response, removes x-as-secret; counts requests in as_test_requests.
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context, send_local_response,
  Counter, Headers
} from "@solo-io/proxy-runtime";

class HeadersRoot extends RootContext {
  requests: Counter = new Counter("as_test_requests");

  createContext(context_id: u32): Context {
    return new HeadersContext(context_id, this);
  }
}

class HeadersContext extends Context {
  root: HeadersRoot;

  constructor(context_id: u32, root_context: HeadersRoot) {
    super(context_id, root_context);
    this.root = root_context;
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    this.root.requests.increment(1);
    if (stream_context.headers.request.get("x-as-deny") != "") {
      send_local_response(401, "as_denied", String.UTF8.encode("no entry\n"), [], 16 /* gRPC UNAUTHENTICATED */);
      return FilterHeadersStatusValues.StopIteration;
    }
    stream_context.headers.request.add("x-as-added", this.root.getConfiguration());
    stream_context.headers.request.remove("x-as-remove");
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-as-response", "yes");
    stream_context.headers.response.remove("x-as-secret");
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new HeadersRoot(context_id); }, "as_headers");
