package dev.waypoint.model.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link LabelIndex#select} answers what a scan with {@link LabelIndex#matches} would, in the same order. */
class LabelIndexTest {
    record Obj(String ns, String name, Map<String, String> labels) { }

    static final List<Obj> OBJECTS = List.of(
            new Obj("a", "web-1", Map.of("app", "web", "version", "v1")),
            new Obj("a", "web-2", Map.of("app", "web", "version", "v2")),
            new Obj("a", "db-1", Map.of("app", "db", "version", "v1")),
            new Obj("a", "bare", Map.of()),
            new Obj("b", "web-3", Map.of("app", "web", "version", "v1")),
            new Obj("a", "web-4", Map.of("app", "web", "version", "v1", "tier", "front")));

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "a | app=web               | web-1 web-2 web-4",
            "a | app=web,version=v1    | web-1 web-4",
            "a | version=v1,app=web    | web-1 web-4",
            "a | version=v1            | web-1 db-1 web-4",
            "a | app=web,tier=front    | web-4",
            "a | app=web,version=v3    | -",
            "a | app=cache             | -",
            "a | nokey=x               | -",
            "a | app=web=x             | -",
            "b | app=web               | web-3",
            "c | app=web               | -",
            // an empty selector selects every object of the namespace (what the scan did)
            "a | -                     | web-1 web-2 db-1 bare web-4",
            "c | -                     | -",
    })
    void selectsWhatAScanWould(String ns, String selector, String expected) {
        Map<String, String> sel = new LinkedHashMap<>();
        if (selector != null) {
            for (String kv : selector.split(",")) {
                int eq = kv.indexOf('=');
                sel.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        LabelIndex<Obj> index = LabelIndex.of(OBJECTS, Obj::ns, Obj::labels);
        List<String> got = index.select(ns, sel).stream().map(Obj::name).toList();
        List<String> want = expected == null ? List.of() : Arrays.asList(expected.trim().split("\\s+"));
        assertThat(got).isEqualTo(want);
        List<String> scan = OBJECTS.stream().filter(o -> o.ns().equals(ns) && LabelIndex.matches(sel, o.labels()))
                .map(Obj::name).toList();
        assertThat(got).as("same as the scan").isEqualTo(scan);
    }
}
