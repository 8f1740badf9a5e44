package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Per-pod destination labels, and the per-generation cache that serves them. */
class PodLabelsTest {
    static PodSpec pod(String name, Map<String, String> labels) {
        return new PodSpec(new NamespacedName("apps", name), labels, "web-sa", null, true, Map.of(), SourceRef.NONE);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            // name | labels | workload | app | version | canonical service | canonical revision
            "web-7d4b9c8f6d-x2k9p | app=web,version=v2 | web | web | v2 | web | v2",
            "db-0 | app.kubernetes.io/name=db,app.kubernetes.io/version=15 | db-0 | unknown | unknown | db | 15",
            "api-1 | service.istio.io/canonical-name=api,service.istio.io/canonical-revision=r1,app=x | api-1 | x | unknown | api | r1",
            "bare | - | bare | unknown | unknown | bare | latest",
    })
    void derivedAsIstioDoes(String name, String labels, String workload, String app, String version, String canonical,
                            String revision) {
        Map<String, String> l = new java.util.HashMap<>();
        if (labels != null) {
            for (String kv : labels.split(",")) {
                l.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
        }
        PodLabels p = PodLabels.of(pod(name, l), "cluster.local");
        assertThat(p).isEqualTo(new PodLabels(workload, "apps", "spiffe://cluster.local/ns/apps/sa/web-sa", app, version,
                canonical, revision));
    }

    @org.junit.jupiter.api.Test
    void cachedPerGenerationAndRederivedForANewOne() {
        PodLabels.Cache cache = new PodLabels.Cache("cluster.local");
        ResourceSet gen1 = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").build();
        ResourceSet gen2 = gen1.toBuilder().build();
        PodSpec v1 = pod("web-0", Map.of("app", "web", "version", "v1"));
        PodSpec v2 = pod("web-0", Map.of("app", "web", "version", "v2")); // same name, relabelled in gen2
        PodLabels first = cache.of(v1, gen1);
        assertThat(cache.of(v1, gen1)).isSameAs(first);
        assertThat(first.version()).isEqualTo("v1");
        assertThat(cache.of(v2, gen2).version()).as("a new generation derives again").isEqualTo("v2");
    }
}
