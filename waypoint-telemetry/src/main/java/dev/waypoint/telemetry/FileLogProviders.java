package dev.waypoint.telemetry;

import dev.waypoint.model.mesh.ExtensionProviderSpec;

/**
 * The {@code envoyFileAccessLog} extension providers of the mesh config, resolved to a file and a
 * format: {@code logFormat.text} is an Envoy format string (as {@code accessLogFormat} under TEXT),
 * {@code logFormat.labels} a JSON object of those keys to operators, neither Istio's default TEXT
 * format. The built-in {@code envoy} provider is not one of them (it is the mesh config's log).
 */
final class FileLogProviders {
    private FileLogProviders() {
    }

    /** A format that does not compile: {@link #field()} names the provider and the field. */
    static final class BadFormat extends IllegalArgumentException {
        private final String field;

        BadFormat(String field, IllegalArgumentException cause) {
            super(field + ": " + cause.getMessage(), cause);
            this.field = field;
        }

        String field() {
            return field;
        }

        /** The reason, without the field. */
        String reason() {
            return getCause().getMessage();
        }
    }

    /** One provider's file and format. */
    record Resolved(String path, AccessLogFormat format) {
    }

    /**
     * The file and format of {@code p}.
     *
     * @throws BadFormat when its format does not compile
     */
    static Resolved resolve(ExtensionProviderSpec.EnvoyFileAccessLog p) {
        String field = "extensionProviders[" + p.name() + "].envoyFileAccessLog.logFormat.";
        AccessLogFormat format = AccessLogFormat.ISTIO_TEXT;
        if (!p.labels().isEmpty()) {
            try {
                format = AccessLogFormat.json(p.labels());
            } catch (IllegalArgumentException e) {
                throw new BadFormat(field + "labels", e);
            }
        } else if (p.textFormat() != null && !p.textFormat().isEmpty()) {
            try {
                format = AccessLogFormat.text(p.textFormat());
            } catch (IllegalArgumentException e) {
                throw new BadFormat(field + "text", e);
            }
        }
        return new Resolved(p.path(), format);
    }
}
