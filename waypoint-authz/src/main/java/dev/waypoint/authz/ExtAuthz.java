package dev.waypoint.authz;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.ServiceCalls;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The CUSTOM action's ext_authz providers: {@code envoyExtAuthzHttp} and {@code envoyExtAuthzGrpc}
 * of the mesh config, resolved once per snapshot to a Service port ({@link Provider}); the check
 * each sends ({@link #checkCall}) and what its answer means ({@link #interpret}). Pure: the call
 * itself goes through {@link ServiceCalls}. Semantics follow Envoy's ext_authz filter as Istio
 * configures it (Istio's {@code extensionProviders} docs, quoted where used).
 */
final class ExtAuthz {
    /** The gRPC method of the Envoy authorization service. */
    static final String CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";
    /** The most a provider's answer may weigh. */
    static final int MAX_RESPONSE_BYTES = 64 << 10;
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "upgrade", "te", "trailer", "content-length", "host", ":authority");
    /**
     * Istio, headersToDownstreamOnDeny: "When a header is included in this list, Path, Status,
     * Content-Length, WWWAuthenticate and Location are automatically added."
     */
    private static final List<String> ALWAYS_ON_DENY = List.of("path", "status", "www-authenticate", "location");

    private ExtAuthz() {}

    /**
     * One resolved provider.
     *
     * @param service the Service its {@code service} names
     * @param authority the provider's hostname as written (the {@code :authority} of gRPC checks)
     * @param http the HTTP provider settings, or null for gRPC
     * @param grpc the gRPC provider settings, or null for HTTP
     */
    record Provider(String name, NamespacedName service, int port, String authority, Duration timeout,
                    boolean failOpen, int statusOnError, ExtensionProviderSpec.EnvoyExtAuthzHttp http,
                    ExtensionProviderSpec.EnvoyExtAuthzGrpc grpc, HeaderNames includeInCheck, HeaderNames toUpstream,
                    HeaderNames toDownstreamOnAllow, HeaderNames toDownstreamOnDeny) {
        @Override
        public String toString() {
            return name + " (" + (grpc != null ? "envoyExtAuthzGrpc" : "envoyExtAuthzHttp") + " " + service + ":" + port + ")";
        }
    }

    /**
     * Istio's header lists in ext_authz providers: "Exact, prefix and suffix matches are supported
     * (similar to the authorization policy rule syntax except the presence match)", compared with
     * lower-case names.
     */
    record HeaderNames(List<String> patterns) {
        static final HeaderNames NONE = new HeaderNames(List.of());

        boolean isEmpty() {
            return patterns.isEmpty();
        }

        boolean matches(String name) {
            for (String p : patterns) {
                if (p.endsWith("*") && p.length() > 1) {
                    if (name.startsWith(p.substring(0, p.length() - 1))) {
                        return true;
                    }
                } else if (p.startsWith("*") && p.length() > 1) {
                    if (name.endsWith(p.substring(1))) {
                        return true;
                    }
                } else if (p.equals(name)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Every ext_authz provider of the mesh config whose {@code service} names a Service port of
     * the snapshot. A provider that does not resolve is reported (kind MeshConfig, its field) and
     * left out: a policy naming it then denies what its rules match, as for an unknown provider.
     */
    static Map<String, Provider> resolve(ResourceSet resources, Diagnostics diagnostics) {
        MeshConfigSpec mesh = resources.meshConfig();
        Map<String, Provider> out = new LinkedHashMap<>();
        List<ExtensionProviderSpec> ps = mesh.extensionProviders();
        for (int i = 0; i < ps.size(); i++) {
            ExtensionProviderSpec p = ps.get(i);
            String field = "extensionProviders[" + i + "]." + p.kind();
            if (p instanceof ExtensionProviderSpec.EnvoyExtAuthzHttp h) {
                if (h.includeRequestBody() != null) {
                    diagnostics.warning(mesh.source(), "MeshConfig", null, field + ".includeRequestBodyInCheck",
                            "not supported: the request body is not sent to the provider");
                }
                ServiceSpec svc = service(resources, h.service(), h.port(), mesh, field, diagnostics);
                if (svc != null) {
                    out.put(h.name(), new Provider(h.name(), svc.name(), h.port(), host(h.service()), h.timeout(),
                            h.failOpen(), h.statusOnError(), h, null, new HeaderNames(h.includeRequestHeadersInCheck()),
                            new HeaderNames(h.headersToUpstreamOnAllow()), new HeaderNames(h.headersToDownstreamOnAllow()),
                            new HeaderNames(h.headersToDownstreamOnDeny())));
                }
            } else if (p instanceof ExtensionProviderSpec.EnvoyExtAuthzGrpc g) {
                if (g.includeRequestBody() != null) {
                    diagnostics.warning(mesh.source(), "MeshConfig", null, field + ".includeRequestBodyInCheck",
                            "not supported: the request body is not sent to the provider");
                }
                ServiceSpec svc = service(resources, g.service(), g.port(), mesh, field, diagnostics);
                if (svc != null) {
                    out.put(g.name(), new Provider(g.name(), svc.name(), g.port(), host(g.service()), g.timeout(),
                            g.failOpen(), g.statusOnError(), null, g, HeaderNames.NONE, HeaderNames.NONE,
                            HeaderNames.NONE, HeaderNames.NONE));
                }
            }
        }
        return out;
    }

    private static String host(String service) {
        int slash = service.indexOf('/');
        return slash < 0 ? service : service.substring(slash + 1);
    }

    /**
     * {@code service}: "the fully qualified host name of the authorization service": written
     * {@code name.ns.svc.cluster.local} (any cluster domain; {@code name.ns.svc} and {@code name.ns}
     * too), or {@code ns/name} where name is a Service name or such a hostname in namespace ns.
     */
    static ServiceSpec service(ResourceSet resources, String service, int port, MeshConfigSpec mesh, String field,
                               Diagnostics diagnostics) {
        String ns = null;
        String host = service;
        int slash = service.indexOf('/');
        if (slash >= 0) {
            ns = service.substring(0, slash);
            host = service.substring(slash + 1);
        }
        String[] labels = host.split("\\.");
        String name = labels[0];
        if (labels.length >= 2) {
            if (ns != null && !ns.equals(labels[1])) {
                diagnostics.error(mesh.source(), "MeshConfig", null, field + ".service", "service: " + service
                        + " (expected: a hostname in namespace " + ns + "); policies naming this provider deny what they match");
                return null;
            }
            ns = labels[1];
            if (labels.length >= 3 && !labels[2].equals("svc")) {
                ns = null; // not a Service hostname
            }
        }
        ServiceSpec found = null;
        if (ns != null) {
            for (ServiceSpec s : resources.services()) {
                if (s.name().namespace().equals(ns) && s.name().name().equals(name)) {
                    found = s;
                    break;
                }
            }
        }
        if (found == null) {
            diagnostics.error(mesh.source(), "MeshConfig", null, field + ".service", "service: " + service
                    + " (expected: a Service of the config, as name.namespace.svc.cluster.local or namespace/name); "
                    + "policies naming this provider deny what they match");
            return null;
        }
        if (found.port(port) == null) {
            diagnostics.error(mesh.source(), "MeshConfig", null, field + ".port", "port: " + port
                    + " (expected: a port of Service " + found.name() + "); policies naming this provider deny what they match");
            return null;
        }
        return found;
    }

    // ---- the check

    /** The request sent to {@code p} for {@code request}. */
    static ServiceCalls.Call checkCall(Provider p, RequestContext request, Clock clock) {
        RequestAttributes a = request.attributes();
        HeadersView in = request.requestHeaders();
        if (p.grpc() != null) {
            List<Map.Entry<String, String>> all = new ArrayList<>();
            all.add(entry(":authority", a.host() == null ? "" : a.host()));
            all.add(entry(":method", a.method()));
            all.add(entry(":path", a.path()));
            all.add(entry(":scheme", a.scheme()));
            for (String name : in.names()) {
                if (name.startsWith("x-http2-") || name.equals("host")) {
                    continue;
                }
                // Envoy's CheckRequest headers map: repeated headers joined with ','
                all.add(entry(name, String.join(",", in.getAll(name))));
            }
            Instant now = clock.instant();
            String length = in.get("content-length");
            long size = -1;
            try {
                size = length == null ? -1 : Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                // "If unknown, it must be -1"
            }
            byte[] message = CheckProto.encode(new CheckProto.Request(peer(a.sourceAddress(),
                    a.sourcePrincipal() == null ? null : a.sourcePrincipal().uri()), peer(a.destinationAddress(), null),
                    now.getEpochSecond(), now.getNano(), in.get("x-request-id"), a.method(), all, a.path(),
                    a.host(), a.scheme(), size, a.protocol()));
            byte[] framed = new byte[5 + message.length];
            // gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length
            framed[1] = (byte) (message.length >>> 24);
            framed[2] = (byte) (message.length >>> 16);
            framed[3] = (byte) (message.length >>> 8);
            framed[4] = (byte) message.length;
            System.arraycopy(message, 0, framed, 5, message.length);
            List<Map.Entry<String, String>> headers = List.of(entry("content-type", "application/grpc"),
                    entry("te", "trailers"), entry("grpc-timeout", Math.max(1, p.timeout().toMillis()) + "m"));
            return new ServiceCalls.Call(p.service(), p.port(), true, "POST", CHECK_PATH, p.authority() + ":" + p.port(),
                    headers, framed, p.timeout(), MAX_RESPONSE_BYTES);
        }
        // HTTP: "Host, Method, Path and Content-Length are automatically sent"; "Content-Length will
        // be set to 0 and the request will not have a message body"
        List<Map.Entry<String, String>> headers = new ArrayList<>();
        if (!p.includeInCheck().isEmpty()) {
            for (String name : in.names()) {
                if (name.startsWith("x-http2-") || HOP_BY_HOP.contains(name) || p.http().includeAdditionalHeadersInCheck()
                        .containsKey(name) || !p.includeInCheck().matches(name)) {
                    continue;
                }
                for (String v : in.getAll(name)) {
                    headers.add(entry(name, v));
                }
            }
        }
        // "Note that client request of the same key or headers specified in
        // include_request_headers_in_check will be overridden"
        p.http().includeAdditionalHeadersInCheck().forEach((k, v) -> headers.add(entry(k.toLowerCase(Locale.ROOT), v)));
        String path = p.http().pathPrefix() + a.path();
        return new ServiceCalls.Call(p.service(), p.port(), false, a.method(), path,
                a.host() == null ? p.authority() : a.host(), headers, new byte[0], p.timeout(), MAX_RESPONSE_BYTES);
    }

    private static CheckProto.Peer peer(InetSocketAddress address, String principal) {
        if (address == null && principal == null) {
            return null;
        }
        return new CheckProto.Peer(address == null ? null : address.getAddress().getHostAddress(),
                address == null ? 0 : address.getPort(), principal);
    }

    private static Map.Entry<String, String> entry(String k, String v) {
        return new AbstractMap.SimpleImmutableEntry<>(k, v);
    }

    // ---- the answer

    /** What the provider said. */
    sealed interface Result {}

    /**
     * Allowed: headers to apply to the upstream request, names to remove from it, headers to set
     * on the client's response.
     */
    record Allow(List<CheckProto.HeaderOption> upstream, List<String> remove, List<Map.Entry<String, String>> downstream)
            implements Result {}

    /** Denied: the provider's status, body and the headers the client gets. */
    record Deny(int status, String body, Map<String, String> headers) implements Result {}

    /** The provider could not be asked, or its answer is not one: failOpen or statusOnError decides. */
    record Error(String why) implements Result {}

    /** Reads the provider's response. */
    static Result interpret(Provider p, ServiceCalls.Response r) {
        return p.grpc() != null ? interpretGrpc(r) : interpretHttp(p, r);
    }

    private static Result interpretHttp(Provider p, ServiceCalls.Response r) {
        int status = r.status();
        if (status >= 500) {
            // Envoy: "Set an error status if the call to the authorization server returns any of
            // the 5xx HTTP error codes"; Istio failOpen: "or if the authorization service has
            // returned a HTTP 5xx error"
            return new Error("provider " + p.name() + " answered " + status);
        }
        if (status == 200) {
            List<CheckProto.HeaderOption> up = new ArrayList<>();
            List<String> remove = new ArrayList<>();
            List<Map.Entry<String, String>> down = new ArrayList<>();
            for (Map.Entry<String, String> h : r.headers()) {
                String name = h.getKey();
                if (name.equals("x-envoy-auth-headers-to-remove")) {
                    // Envoy: the HTTP authorization server names request headers to remove here
                    for (String n : h.getValue().split(",")) {
                        if (!n.isBlank()) {
                            remove.add(n.trim().toLowerCase(Locale.ROOT));
                        }
                    }
                    continue;
                }
                if (HOP_BY_HOP.contains(name)) {
                    continue;
                }
                // "If not specified, the original request will not be modified"; "any existing headers will be overridden"
                if (p.toUpstream().matches(name)) {
                    up.add(new CheckProto.HeaderOption(name, h.getValue(), CheckProto.Apply.SET));
                }
                if (p.toDownstreamOnAllow().matches(name)) {
                    down.add(h);
                }
            }
            return new Allow(up, remove, down);
        }
        // "If not specified, all the authorization response headers, except Authority (Host) will be
        // in the response to the downstream"
        Map<String, String> headers = new LinkedHashMap<>();
        for (Map.Entry<String, String> h : r.headers()) {
            String name = h.getKey();
            if (HOP_BY_HOP.contains(name) || name.startsWith(":")) {
                continue;
            }
            if (p.toDownstreamOnDeny().isEmpty() || p.toDownstreamOnDeny().matches(name) || ALWAYS_ON_DENY.contains(name)) {
                headers.putIfAbsent(name, h.getValue());
            }
        }
        return new Deny(status, new String(r.body(), StandardCharsets.UTF_8), headers);
    }

    private static Result interpretGrpc(ServiceCalls.Response r) {
        if (r.status() != 200) {
            return new Error("gRPC provider answered HTTP " + r.status());
        }
        String grpcStatus = r.trailer("grpc-status");
        if (!"0".equals(grpcStatus)) {
            return new Error("gRPC provider answered grpc-status " + grpcStatus
                    + (r.trailer("grpc-message") == null ? "" : " (" + r.trailer("grpc-message") + ")"));
        }
        byte[] b = r.body();
        if (b.length < 5) {
            return new Error("gRPC provider sent no CheckResponse");
        }
        if (b[0] != 0) {
            return new Error("gRPC provider sent a compressed CheckResponse (no grpc-accept-encoding was offered)");
        }
        long length = ((b[1] & 0xFFL) << 24) | ((b[2] & 0xFF) << 16) | ((b[3] & 0xFF) << 8) | (b[4] & 0xFF);
        if (length != b.length - 5) {
            return new Error("gRPC provider sent " + (b.length - 5) + " bytes for a " + length + "-byte CheckResponse");
        }
        CheckProto.Response c;
        try {
            c = CheckProto.decode(java.util.Arrays.copyOfRange(b, 5, b.length));
        } catch (CheckProto.Malformed e) {
            return new Error("gRPC provider sent a malformed CheckResponse: " + e.getMessage());
        }
        if (c.code() == 0) {
            List<Map.Entry<String, String>> down = new ArrayList<>();
            for (CheckProto.HeaderOption h : c.okResponseHeaders()) {
                down.add(entry(h.name(), h.value()));
            }
            return new Allow(c.okHeaders(), c.okRemove(), down);
        }
        // Envoy: a denied CheckResponse without an HTTP status is a 403
        int status = c.deniedStatus() >= 200 && c.deniedStatus() <= 599 ? c.deniedStatus() : 403;
        Map<String, String> headers = new LinkedHashMap<>();
        for (CheckProto.HeaderOption h : c.deniedHeaders()) {
            if (!HOP_BY_HOP.contains(h.name()) && !h.name().startsWith(":")) {
                headers.putIfAbsent(h.name(), h.value());
            }
        }
        return new Deny(status, c.deniedBody(), headers);
    }
}
