package dev.waypoint.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Static factories for the Kubernetes client. */
public final class KubeClients {
    private KubeClients() {}

    /**
     * A client on the JDK's {@code HttpClient} (no Vert.x, no OkHttp; chosen explicitly, not by
     * {@code ServiceLoader}).
     *
     * @param kubeconfig a kubeconfig file (its current context), or null for fabric8's
     *        auto-configuration, which in a pod is the mounted service account (token, CA, and
     *        {@code KUBERNETES_SERVICE_HOST}); outside a pod {@code KUBECONFIG} or
     *        {@code ~/.kube/config}
     * @throws UncheckedIOException if the kubeconfig cannot be read
     */
    public static KubernetesClient create(Path kubeconfig) {
        Config config;
        if (kubeconfig == null) {
            config = Config.autoConfigure(null);
        } else {
            try {
                config = Config.fromKubeconfig(Files.readString(kubeconfig, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("--kubeconfig " + kubeconfig + ": cannot read", e);
            }
        }
        return new KubernetesClientBuilder().withConfig(config).withHttpClientFactory(new JdkHttpClientFactory()).build();
    }
}
