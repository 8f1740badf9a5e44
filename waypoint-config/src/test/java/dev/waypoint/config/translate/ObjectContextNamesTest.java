package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DNS-1123 name checks are hand-written (issue 17); they must accept exactly what
 * k8s.io/apimachinery's expressions accept, which were used before.
 */
class ObjectContextNamesTest {
    private static final Pattern SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

    static Stream<String> names() {
        List<String> s = new ArrayList<>(List.of("", "a", "0", "-", ".", "a-", "-a", "a-b", "a--b", "a.b", "a..b", "a.",
                ".a", "a.b-c.d", "A", "aB", "a_b", "a b", "é", "reviews", "svc-1.ns-0", "http", "grpc-port", "8080",
                "a".repeat(63), "a".repeat(64), ("a".repeat(63) + ".").repeat(3) + "a".repeat(61),
                ("a".repeat(63) + ".").repeat(3) + "a".repeat(62), "x".repeat(15), "x".repeat(16)));
        Random r = new Random(17);
        String alphabet = "ab9-.A_";
        for (int i = 0; i < 3000; i++) {
            StringBuilder b = new StringBuilder();
            for (int n = r.nextInt(9); n > 0; n--) {
                b.append(alphabet.charAt(r.nextInt(alphabet.length())));
            }
            s.add(b.toString());
        }
        return s.stream();
    }

    @ParameterizedTest
    @MethodSource("names")
    void theChecksAcceptWhatTheExpressionsAccept(String s) {
        assertThat(ObjectContext.isSubdomain(s)).as("subdomain %s", s)
                .isEqualTo(s.length() <= 253 && SUBDOMAIN.matcher(s).matches());
        assertThat(ObjectContext.isLabel(s)).as("label %s", s).isEqualTo(s.length() <= 63 && LABEL.matcher(s).matches());
        assertThat(ObjectContext.isPortName(s)).as("port name %s", s).isEqualTo(s.length() <= 15
                && LABEL.matcher(s).matches() && s.chars().anyMatch(Character::isLetter) && !s.contains("--"));
    }

    @Test
    void aPathQuotesKeysThatAreNotPlain() {
        assertThat(ObjectContext.path("metadata", "labels")).isEqualTo("metadata.labels");
        assertThat(ObjectContext.path("", "spec")).isEqualTo("spec");
        assertThat(ObjectContext.path("metadata.labels", "app_v-1")).isEqualTo("metadata.labels.app_v-1");
        assertThat(ObjectContext.path("metadata.labels", "istio.io/rev")).isEqualTo("metadata.labels['istio.io/rev']");
        assertThat(ObjectContext.path("x", "")).isEqualTo("x.");
    }
}
