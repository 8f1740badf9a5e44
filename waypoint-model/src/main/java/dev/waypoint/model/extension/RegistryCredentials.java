package dev.waypoint.model.extension;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The registry → login map of one {@code imagePullSecret} (a Secret of type
 * {@code kubernetes.io/dockerconfigjson} or {@code kubernetes.io/dockercfg}), keyed by registry
 * {@code host[:port]} (the Secret's keys with any scheme and path dropped, lower-case). Nothing
 * else of the Secret is kept. {@link #toString()} never shows a login: these values must not reach
 * a log or {@code /config_dump}.
 *
 * @param registries logins by registry {@code host[:port]}
 */
public record RegistryCredentials(Map<String, Login> registries) {
    public RegistryCredentials {
        registries = Map.copyOf(registries);
    }

    /** A user name and password for a registry (from {@code auth}, or {@code username}/{@code password}). */
    public record Login(String username, String password) {
        public Login {
            Objects.requireNonNull(username, "username");
            Objects.requireNonNull(password, "password");
        }

        @Override
        public String toString() {
            return "Login[redacted]";
        }
    }

    /**
     * A Secret's registry key as {@code host[:port]}: {@code https://index.docker.io/v1/} is
     * {@code index.docker.io}, {@code registry.test:5000} stays as it is.
     */
    public static String registryKey(String key) {
        String k = key.trim().toLowerCase(Locale.ROOT);
        int scheme = k.indexOf("://");
        if (scheme >= 0) {
            k = k.substring(scheme + 3);
        }
        int slash = k.indexOf('/');
        return slash >= 0 ? k.substring(0, slash) : k;
    }

    /** The login for registry {@code host[:port]} (as written in an {@code oci://} url), or null. */
    public Login forRegistry(String host) {
        return registries.get(registryKey(host));
    }

    @Override
    public String toString() {
        return "RegistryCredentials" + new TreeMap<>(registries).keySet() + "[logins redacted]";
    }
}
