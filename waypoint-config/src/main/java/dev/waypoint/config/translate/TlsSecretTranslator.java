package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TlsSecretSpec;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * Core {@code v1} {@code Secret}s of type {@code Opaque} (also when no type is written) or
 * {@code kubernetes.io/tls} holding at least one of the keys Istio's credential controller reads
 * for a DestinationRule's {@code credentialName} → a {@link TlsSecretSpec}: {@code cert},
 * {@code key} and {@code cacert} first (Istio's generic Secret), then {@code tls.crt},
 * {@code tls.key} and {@code ca.crt}. {@code stringData} wins over {@code data}, as the API server
 * merges it. Half a pair (a chain without its key) is no certificate: a DestinationRule that needs
 * one reports it, as {@code ExtractCertInfo} refuses it on use (an Opaque Secret's {@code key} may
 * be anything). A value that is not base64, or not a string, is an error. Secrets without any of
 * the keys are never read (the caller keeps them as unread objects).
 *
 * <p>No message here ever quotes a value of the Secret: only field paths.
 */
final class TlsSecretTranslator {
    static final String OPAQUE = "Opaque";
    static final String TLS = "kubernetes.io/tls";
    /** Every key read, generic first: Istio's precedence. */
    static final List<String> KEYS = List.of("cert", "key", "cacert", "tls.crt", "tls.key", "ca.crt");

    private TlsSecretTranslator() {}

    /** Whether {@code tree} is an Opaque or TLS Secret with at least one key read here. */
    static boolean isTlsSecret(JsonNode tree) {
        JsonNode type = child(tree, "type");
        if (type != null && !(type.isTextual() && (type.textValue().equals(OPAQUE) || type.textValue().equals(TLS)))) {
            return false;
        }
        for (String k : KEYS) {
            if (child(child(tree, "data"), k) != null || child(child(tree, "stringData"), k) != null) {
                return true;
            }
        }
        return false;
    }

    static TlsSecretSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, SourceRef source) {
        String[] values = new String[KEYS.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = value(ctx, tree, KEYS.get(i));
        }
        if (ctx.failed()) {
            return null;
        }
        // ExtractCertInfo: the generic pair when both are there, else the TLS pair
        String chain = null;
        String key = null;
        if (values[0] != null && values[1] != null) {
            chain = values[0];
            key = values[1];
        } else if (values[3] != null && values[4] != null) {
            chain = values[3];
            key = values[4];
        }
        // half a pair is no certificate (not an error here: an Opaque Secret's "key" may be anything else;
        // a rule that needs the certificate says what is missing, as ExtractCertInfo does on use)
        String ca = values[2] != null ? values[2] : values[5];
        return new TlsSecretSpec(name, chain, key, ca, source);
    }

    /** The decoded value of {@code key} ({@code stringData} first), null when absent or empty. */
    private static String value(ObjectContext ctx, JsonNode tree, String key) {
        JsonNode plain = child(child(tree, "stringData"), key);
        JsonNode encoded = child(child(tree, "data"), key);
        if (plain != null) {
            if (!plain.isTextual()) {
                ctx.error("stringData['" + key + "']", "stringData['" + key + "']: not a string (expected: PEM text)");
                return null;
            }
            // the API server stores stringData as its UTF-8 bytes; kept as bytes here, like data's
            return plain.textValue().isEmpty() ? null
                    : new String(plain.textValue().getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
        }
        if (encoded == null || encoded.isNull()) {
            return null;
        }
        String field = "data['" + key + "']";
        if (!encoded.isTextual()) {
            ctx.error(field, field + ": not a string (expected: base64 of PEM text)");
            return null;
        }
        try {
            // PEM is ASCII; ISO-8859-1 keeps any other byte as it was. Line breaks are allowed, as Go's decoder allows them
            String v = new String(Base64.getDecoder().decode(encoded.textValue().replaceAll("[\\r\\n]", "")),
                    StandardCharsets.ISO_8859_1);
            return v.isEmpty() ? null : v;
        } catch (IllegalArgumentException e) {
            ctx.error(field, field + ": not base64 (expected: base64 of PEM text)");
            return null;
        }
    }
}
