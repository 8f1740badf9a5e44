package dev.waypoint.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

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
        return create(kubeconfig, uri -> { });
    }

    /**
     * As {@link #create(Path)}, telling {@code watchGone} about every watch request answered
     * {@code 410 Gone} (at the WebSocket handshake: fabric8 8.0 would retry that stale
     * resourceVersion with backoff forever without telling the informer's exception handler).
     */
    static KubernetesClient create(Path kubeconfig, Consumer<java.net.URI> watchGone) {
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
        Interceptor gone = new Interceptor() {
            @Override
            public CompletableFuture<Boolean> afterFailure(BasicBuilder builder, HttpResponse<?> response, RequestTags tags) {
                if (response.code() == 410 && response.request() != null) {
                    String query = response.request().uri().getRawQuery();
                    if (query != null && query.contains("watch=true")) {
                        watchGone.accept(response.request().uri());
                    }
                }
                return CompletableFuture.completedFuture(false);
            }
        };
        return new KubernetesClientBuilder().withConfig(config).withHttpClientFactory(new JdkHttpClientFactory())
                .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("waypoint-watch-gone", gone)).build();
    }
}
