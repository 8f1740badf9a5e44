package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.RetryPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The mesh config's defaultHttpRetryPolicy, converted as Istio's retry.ConvertPolicy. */
class MeshRetriesTest {
    private static MeshConfigSpec.HttpRetry retry(int attempts, Duration perTry, String retryOn) {
        return new MeshConfigSpec.HttpRetry(attempts, perTry, retryOn);
    }

    @Test
    void notSetKeepsTheFallbackAndZeroAttemptsDisable() {
        assertThat(MeshRetries.policy(null, RetryPolicy.ISTIO_DEFAULT)).isEqualTo(RetryPolicy.ISTIO_DEFAULT);
        assertThat(MeshRetries.policy(retry(0, null, "5xx"), RetryPolicy.ISTIO_DEFAULT)).isEqualTo(RetryPolicy.NONE);
    }

    @Test
    void withoutRetryOnIstiosConditionsWithoutStatusCodes() {
        assertThat(MeshRetries.policy(retry(4, Duration.ofSeconds(2), null), RetryPolicy.ISTIO_DEFAULT))
                .isEqualTo(new RetryPolicy(4, Duration.ofSeconds(2), true, false, true, Set.of(), Set.of(1, 14)));
    }

    @Test
    void retryOnIsEnvoysListWithIntegersAsStatusCodes() {
        assertThat(MeshRetries.policy(retry(3, null, "connect-failure,refused-stream,503,retriable-status-codes"), RetryPolicy.NONE))
                .isEqualTo(new RetryPolicy(3, null, true, false, true, Set.of(503), Set.of()));
        assertThat(MeshRetries.policy(retry(1, null, "gateway-error,reset,deadline-exceeded"), RetryPolicy.NONE))
                .isEqualTo(new RetryPolicy(1, null, false, true, true, Set.of(502, 503, 504), Set.of(4)));
        RetryPolicy fiveXx = MeshRetries.policy(retry(2, null, "5xx"), RetryPolicy.NONE);
        assertThat(fiveXx.retriable(500)).isTrue();
        assertThat(fiveXx.retriable(599)).isTrue();
        assertThat(fiveXx.connectFailure()).isTrue();
        assertThat(fiveXx.reset()).isTrue();
    }

    @Test
    void theSnapshotsMeshConfigDecidesTheDefaultOfTheRouteTable() {
        MeshConfigSpec d = MeshConfigSpec.DEFAULT;
        MeshConfigSpec mesh = new MeshConfigSpec(SourceRef.NONE, d.trustDomain(), d.trustDomainAliases(), d.rootNamespace(),
                d.extensionProviders(), d.defaultProviders(), retry(5, null, "503"), d.accessLogFile(), d.accessLogEncoding(),
                d.accessLogFormat(), d.enableTracing(), d.tracingSampling(), d.numTrustedProxies(), d.pathNormalization());
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").meshConfig(mesh).build();
        assertThat(new HttpRouteCompiler().compile(rs, new Diagnostics()).defaultRetry())
                .isEqualTo(new RetryPolicy(5, null, false, false, false, Set.of(503), Set.of()));
        ResourceSet none = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").build();
        assertThat(new HttpRouteCompiler().compile(none, new Diagnostics()).defaultRetry()).isEqualTo(RetryPolicy.ISTIO_DEFAULT);
        assertThat(List.of(new HttpRouteCompiler().compile(rs, new Diagnostics()).toDebugString().split("\n")))
                .contains("default retry: 5 retries on 503");
    }
}
