package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.gateway.RouteMatchSpec.PathType;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class MatchSummaryTest {
    private static final Instant OLD = Instant.parse("2023-01-01T00:00:00Z");
    private static final Instant NEW = Instant.parse("2024-01-01T00:00:00Z");

    record Case(String name, MatchSummary winner, MatchSummary loser) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static MatchSummary m(PathType type, int length, boolean method, int headers, int query, Instant created,
                                  String route, int rule) {
        return new MatchSummary(type, length, method, headers, query, created, route, rule, 0);
    }

    static Stream<Case> precedence() {
        return Stream.of(
                new Case("exact beats a longer prefix", m(PathType.EXACT, 2, false, 0, 0, null, "a/r", 0),
                        m(PathType.PATH_PREFIX, 20, true, 3, 3, null, "a/r", 0)),
                new Case("longest prefix", m(PathType.PATH_PREFIX, 4, false, 0, 0, null, "a/r", 1),
                        m(PathType.PATH_PREFIX, 1, true, 2, 0, null, "a/r", 0)),
                new Case("prefix beats regex (Istio)", m(PathType.PATH_PREFIX, 0, false, 0, 0, null, "a/r", 1),
                        m(PathType.REGULAR_EXPRESSION, 30, false, 0, 0, null, "a/r", 0)),
                new Case("method beats headers", m(PathType.PATH_PREFIX, 1, true, 0, 0, null, "a/r", 1),
                        m(PathType.PATH_PREFIX, 1, false, 3, 0, null, "a/r", 0)),
                new Case("more headers", m(PathType.PATH_PREFIX, 1, false, 2, 0, null, "a/r", 1),
                        m(PathType.PATH_PREFIX, 1, false, 1, 5, null, "a/r", 0)),
                new Case("more query params", m(PathType.PATH_PREFIX, 1, false, 1, 2, null, "a/r", 1),
                        m(PathType.PATH_PREFIX, 1, false, 1, 1, null, "a/r", 0)),
                new Case("older route", m(PathType.PATH_PREFIX, 1, false, 0, 0, OLD, "z/r", 0),
                        m(PathType.PATH_PREFIX, 1, false, 0, 0, NEW, "a/r", 0)),
                new Case("a timestamp beats none", m(PathType.PATH_PREFIX, 1, false, 0, 0, NEW, "z/r", 0),
                        m(PathType.PATH_PREFIX, 1, false, 0, 0, null, "a/r", 0)),
                new Case("namespace/name", m(PathType.PATH_PREFIX, 1, false, 0, 0, OLD, "a/z", 3),
                        m(PathType.PATH_PREFIX, 1, false, 0, 0, OLD, "b/a", 0)),
                new Case("first rule", m(PathType.PATH_PREFIX, 1, false, 0, 0, OLD, "a/r", 0),
                        m(PathType.PATH_PREFIX, 1, false, 0, 0, OLD, "a/r", 1)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("precedence")
    void winnerSortsFirst(Case c) {
        assertThat(c.winner()).isLessThan(c.loser());
        assertThat(c.loser()).isGreaterThan(c.winner());
    }
}
