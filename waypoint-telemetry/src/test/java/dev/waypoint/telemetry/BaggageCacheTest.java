package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The cache answers what {@link Baggage#parse} answers, whatever the sequence of values. */
class BaggageCacheTest {
    @Test
    void answersAsParseDoesAndReusesTheLastValue() {
        BaggageCache cache = new BaggageCache();
        String a = "k8s.namespace.name=a,k8s.deployment.name=web;p=1,service.version=v1";
        String b = "k8s.namespace.name=b,k8s.statefulset.name=db";
        String[] sequence = {a, a, new String(a), b, a, null, "", "bad,=x,k=v", b, b};
        for (String h : sequence) {
            assertThat(cache.parse(h)).as("baggage %s", h).isEqualTo(Baggage.parse(h));
        }
        Map<String, String> first = cache.parse(b);
        assertThat(cache.parse(new String(b))).as("an equal value is answered from the cache").isSameAs(first);
        assertThat(cache.parse(a)).containsEntry("k8s.deployment.name", "web").containsEntry("service.version", "v1");
    }
}
