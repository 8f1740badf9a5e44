package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code waypoint explain} over the demo manifests: a bound Service (stages, route, endpoints),
 * an address nobody serves (refused before any tunnel, with the reason), a name that is not in
 * the config, JSON output, and argument errors.
 */
class ExplainTest {
    record Run(int exit, String out, String err) {}

    static Run explain(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = System.out;
        PrintStream e = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            String[] all = new String[args.length + 3];
            all[0] = "explain";
            all[1] = "--config-dir";
            all[2] = "../examples/demo";
            System.arraycopy(args, 0, all, 3, args.length);
            int code = new CommandLine(new Main()).execute(all);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test
    void aBoundServiceShowsItsStagesRouteAndEndpoints() {
        Run r = explain("--from", "spiffe://cluster.local/ns/demo/sa/curl", "--source-ip", "10.0.0.9", "GET",
                "http://reviews.demo:9080/api/v1");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("GET http://reviews.demo:9080/api/v1",
                "from    spiffe://cluster.local/ns/demo/sa/curl at 10.0.0.9",
                "target  Service demo/reviews port 9080 (127.10.0.10:9080, http)",
                "route  continue",
                "route  default -> Service demo/reviews:9080 (no timeout, no retries)",
                "result  forwarded to Service demo/reviews:9080 on route default",
                "endpoints (3, round robin)",
                "127.10.1.1:9080 (hbone spiffe://cluster.local/ns/demo/sa/bookinfo-reviews)");
    }

    @Test
    void theVipWorksLikeTheName() {
        Run byName = explain("GET", "http://reviews.demo.svc.cluster.local:9080/");
        Run byVip = explain("GET", "http://127.10.0.10:9080/");
        assertThat(byVip.out().lines().skip(1).toList()).isEqualTo(byName.out().lines().skip(1).toList());
    }

    @Test
    void anAddressNobodyServesIsRefusedWithTheReason() {
        Run r = explain("GET", "http://127.10.0.99/");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("result  CONNECT 127.10.0.99:80 refused: 400 target_not_bound",
                "is not a Service VIP or Pod IP bound to this waypoint");
    }

    @Test
    void aServiceWithoutEndpointsWouldGet503() {
        assertThat(explain("GET", "http://nothing-behind.demo/").out())
                .contains("result  503 no_healthy_upstream (Service demo/nothing-behind:80 has no ready endpoint)");
    }

    @Test
    void aNameThatIsNotInTheConfigIsSaidSo() {
        assertThat(explain("GET", "http://empty-svc.demo/").out()).contains("no Service demo/empty-svc in the config");
    }

    @Test
    void jsonOutputCarriesTheSameReport() {
        Run r = explain("--output", "json", "GET", "http://reviews.demo:9080/");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("\"accepted\" : true", "\"outcome\" : \"forwarded to Service demo/reviews:9080 on route default\"",
                "\"route\" : \"default -> Service demo/reviews:9080 (no timeout, no retries)\"");
    }

    @Test
    void badArgumentsAreNamed() {
        assertThat(explain("--from", "alice", "GET", "http://reviews.demo/").err()).contains("--from: alice (expected: spiffe://");
        assertThat(explain("--header", "nocolon", "GET", "http://reviews.demo/").err()).contains("--header: nocolon (expected: NAME:VALUE)");
        assertThat(explain("--output", "xml", "GET", "http://reviews.demo/").exit()).isEqualTo(2);
    }

    @Test
    void httpRoutesDecideTheRouteAndAnswer404AndRedirects(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        try (java.io.InputStream in = ExplainTest.class.getResourceAsStream("/e2e/routes-mesh.yaml")) {
            java.nio.file.Files.write(dir.resolve("mesh.yaml"), in.readAllBytes());
        }
        java.util.function.Function<String, String> run = path -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PrintStream o = System.out;
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            try {
                new CommandLine(new Main()).execute("explain", "--config-dir", dir.toString(), "--from",
                        "spiffe://cluster.local/ns/apps/sa/client", "GET", "http://web.apps" + path);
            } finally {
                System.setOut(o);
            }
            return out.toString(StandardCharsets.UTF_8);
        };
        assertThat(run.apply("/v2/items")).contains("route           web.apps.v2 -> Service apps/web-v2:80 (no timeout, no retries)",
                "route-response  add x-routed: yes",
                "result  forwarded to Service apps/web-v2:80 on route web.apps.v2");
        assertThat(run.apply("/nothing")).contains("answered by route: 404 route_not_found");
        assertThat(run.apply("/old")).contains("answers 302", "{location=http://new.example/new}");
        assertThat(run.apply("/delay/1")).contains("timeout 500 ms");
    }
}
