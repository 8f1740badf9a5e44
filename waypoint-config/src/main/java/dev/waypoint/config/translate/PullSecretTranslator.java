package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.model.extension.RegistryCredentials;
import dev.waypoint.model.extension.RegistryCredentials.Login;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Core {@code v1} {@code Secret}s of type {@code kubernetes.io/dockerconfigjson}
 * ({@code data[".dockerconfigjson"]}: base64 of {@code {"auths": {registry: entry}}}) or
 * {@code kubernetes.io/dockercfg} ({@code data[".dockercfg"]}: base64 of {@code {registry: entry}}),
 * the Secrets a WasmPlugin's {@code imagePullSecret} names, → a {@link PullSecret}: the registry →
 * login map and nothing else. An entry is {@code auth} (base64 of {@code user:password}) or
 * {@code username} and {@code password}, as Docker and Kubernetes read them; {@code stringData}
 * (the same keys, not base64) wins over {@code data}, as the API server merges it. Secrets of
 * other types are never read (the caller keeps them as unread objects).
 *
 * <p>No message here ever quotes a value of the Secret: only field paths and registry names.
 */
final class PullSecretTranslator {
    static final String DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson";
    static final String DOCKER_CFG = "kubernetes.io/dockercfg";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the wasm stage needs of a registry Secret. {@code toString} shows no login. */
    record PullSecret(NamespacedName name, RegistryCredentials credentials) {}

    private PullSecretTranslator() {}

    /** Whether {@code tree} is a Secret of one of the two registry types (the only Secrets read). */
    static boolean isRegistrySecret(JsonNode tree) {
        JsonNode type = child(tree, "type");
        return type != null && type.isTextual()
                && (type.textValue().equals(DOCKER_CONFIG_JSON) || type.textValue().equals(DOCKER_CFG));
    }

    static PullSecret translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        boolean json = child(tree, "type").textValue().equals(DOCKER_CONFIG_JSON);
        String key = json ? ".dockerconfigjson" : ".dockercfg";
        String field;
        byte[] text;
        JsonNode plain = child(child(tree, "stringData"), key);
        JsonNode encoded = child(child(tree, "data"), key);
        if (plain != null) {
            field = "stringData['" + key + "']";
            if (!plain.isTextual()) {
                ctx.error(field, field + ": not a string (expected: the " + key + " JSON text)");
                return null;
            }
            text = plain.textValue().getBytes(StandardCharsets.UTF_8);
        } else if (encoded != null) {
            field = "data['" + key + "']";
            if (!encoded.isTextual()) {
                ctx.error(field, field + ": not a string (expected: base64 of the " + key + " JSON)");
                return null;
            }
            try {
                text = Base64.getDecoder().decode(encoded.textValue());
            } catch (IllegalArgumentException e) {
                ctx.error(field, field + ": not base64 (expected: base64 of the " + key + " JSON)");
                return null;
            }
        } else {
            ctx.error("data['" + key + "']", "data['" + key + "']: missing (expected: the registry logins of a "
                    + "Secret of type " + (json ? DOCKER_CONFIG_JSON : DOCKER_CFG) + ")");
            return null;
        }
        JsonNode config;
        try {
            config = JSON.readTree(text);
        } catch (IOException e) {
            config = null;
        }
        if (config == null || !config.isObject()) {
            ctx.error(field, field + ": not a JSON object (expected: " + (json ? "{\"auths\": {registry: {auth: ...}}}"
                    : "{registry: {auth: ...}}") + ")");
            return null;
        }
        JsonNode auths = config;
        if (json) {
            auths = config.get("auths");
            if (auths == null || !auths.isObject()) {
                ctx.error(field, field + ": no auths object (expected: {\"auths\": {registry: {auth: ...}}})");
                return null;
            }
        }
        Map<String, Login> logins = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = field + " " + (json ? "auths." : "") + e.getKey();
            Login login = login(e.getValue());
            if (login == null) {
                ctx.error(field, where + ": no login (expected: auth, base64 of user:password, or username and "
                        + "password)");
                return null;
            }
            logins.put(RegistryCredentials.registryKey(e.getKey()), login);
        }
        return new PullSecret(name, new RegistryCredentials(logins));
    }

    private static Login login(JsonNode entry) {
        if (entry == null || !entry.isObject()) {
            return null;
        }
        JsonNode auth = entry.get("auth");
        if (auth != null && auth.isTextual() && !auth.textValue().isEmpty()) {
            String pair;
            try {
                pair = new String(Base64.getDecoder().decode(auth.textValue()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
            int colon = pair.indexOf(':');
            return colon <= 0 ? null : new Login(pair.substring(0, colon), pair.substring(colon + 1));
        }
        JsonNode user = entry.get("username");
        JsonNode password = entry.get("password");
        if (user != null && user.isTextual() && !user.textValue().isEmpty() && password != null && password.isTextual()) {
            return new Login(user.textValue(), password.textValue());
        }
        return null;
    }
}
