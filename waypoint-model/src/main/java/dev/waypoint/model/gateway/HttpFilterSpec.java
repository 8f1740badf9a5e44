package dev.waypoint.model.gateway;

import java.util.List;
import java.util.Objects;

/** One {@code HTTPRouteFilter}, on a rule or on a backendRef. */
public sealed interface HttpFilterSpec {
    /** {@code RequestHeaderModifier}. */
    record RequestHeaderModifier(HeaderModifier modifier) implements HttpFilterSpec {}

    /** {@code ResponseHeaderModifier}. */
    record ResponseHeaderModifier(HeaderModifier modifier) implements HttpFilterSpec {}

    /**
     * {@code RequestRedirect}.
     *
     * @param scheme {@code http}/{@code https}, or null to keep the request's
     * @param hostname or null to keep the request's
     * @param port or 0 when unset
     * @param path or null to keep the request's
     * @param statusCode 301, 302 (default), 303, 307 or 308
     */
    record RequestRedirect(String scheme, String hostname, int port, PathModifier path, int statusCode)
            implements HttpFilterSpec {}

    /** {@code URLRewrite}: {@code hostname} and {@code path} each null when unset. */
    record UrlRewrite(String hostname, PathModifier path) implements HttpFilterSpec {}

    /**
     * {@code RequestMirror}.
     *
     * @param fraction the share of requests mirrored, 0-1 ({@code percent} / 100, or
     *        {@code fraction.numerator / denominator}; 1 when neither is set)
     */
    record RequestMirror(BackendRefSpec backend, double fraction) implements HttpFilterSpec {
        public RequestMirror {
            if (!(fraction >= 0 && fraction <= 1)) {
                throw new IllegalArgumentException("fraction: " + fraction + " (expected: 0-1)");
            }
        }

        /** Every request mirrored. */
        public RequestMirror(BackendRefSpec backend) {
            this(backend, 1);
        }
    }

    /**
     * {@code CORS} (Gateway API {@code HTTPCORSFilter}).
     *
     * @param allowOrigins origins as written: {@code *}, or {@code scheme://host[:port]} where
     *        {@code *} in the host is a wildcard spanning one or more labels
     * @param allowMethods methods, or {@code *}
     * @param allowHeaders request headers, or {@code *}
     * @param exposeHeaders response headers, or {@code *}
     * @param maxAge seconds a preflight may be cached (the CRD default: 5)
     */
    record Cors(List<String> allowOrigins, boolean allowCredentials, List<String> allowMethods, List<String> allowHeaders,
                List<String> exposeHeaders, int maxAge) implements HttpFilterSpec {
        public Cors {
            allowOrigins = List.copyOf(allowOrigins);
            allowMethods = List.copyOf(allowMethods);
            allowHeaders = List.copyOf(allowHeaders);
            exposeHeaders = List.copyOf(exposeHeaders);
        }
    }

    /**
     * A filter this waypoint does not implement ({@code ExtensionRef}): the rule
     * that carries it answers 500 rather than run without it.
     */
    record Unsupported(String type) implements HttpFilterSpec {
        public Unsupported {
            Objects.requireNonNull(type, "type");
        }
    }

    /** {@code set}, {@code add}, {@code remove} of a header modifier. */
    record HeaderModifier(List<Header> set, List<Header> add, List<String> remove) {
        public HeaderModifier {
            set = List.copyOf(set);
            add = List.copyOf(add);
            remove = List.copyOf(remove);
        }
    }

    /** One header name and value. */
    record Header(String name, String value) {
        public Header {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
        }
    }

    /** {@code ReplaceFullPath} or {@code ReplacePrefixMatch} with its value. */
    record PathModifier(PathModifierType type, String value) {
        public PathModifier {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(value, "value");
        }
    }

    /** {@code path.type} of a redirect or rewrite. */
    enum PathModifierType { REPLACE_FULL_PATH, REPLACE_PREFIX_MATCH }
}
