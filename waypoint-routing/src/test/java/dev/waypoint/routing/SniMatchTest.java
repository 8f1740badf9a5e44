package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** TLSRoute hostnames against SNI names: a truth table, and the order names are tried in. */
class SniMatchTest {
    @ParameterizedTest(name = "{0} vs {1} -> {2}")
    @CsvSource(nullValues = "NULL", textBlock = """
            api.example.com,    api.example.com,       true
            api.example.com,    www.example.com,       false
            api.example.com,    example.com,           false
            api.example.com,    api.example.com.evil,  false
            api.example.com,    NULL,                  false
            *.example.com,      api.example.com,       true
            *.example.com,      a.b.example.com,       true
            *.example.com,      example.com,           false
            *.example.com,      api.example.net,       false
            *.example.com,      apiexample.com,        false
            *.example.com,      .example.com,          false
            *.example.com,      NULL,                  false
            *.com,              example.com,           true
            *,                  anything.example,      true
            *,                  NULL,                  true
            """)
    void matches(String hostname, String sni, boolean expected) {
        assertThat(SniMatch.matches(hostname, sni)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} before {1}")
    @CsvSource(textBlock = """
            api.example.com,     *.example.com
            a.example.com,       *.api.example.com
            *.api.example.com,   *.example.com
            *.example.com,       *
            api.example.com,     *
            """)
    void precedence(String first, String second) {
        assertThat(SniMatch.precedence(first, second)).isNegative();
        assertThat(SniMatch.precedence(second, first)).isPositive();
    }
}
