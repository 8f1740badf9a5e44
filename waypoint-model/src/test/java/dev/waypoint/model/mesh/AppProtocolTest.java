package dev.waypoint.model.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AppProtocolTest {
    @ParameterizedTest(name = "appProtocol={0} name={1} port={2} -> {3}")
    @CsvSource(nullValues = "-", value = {
            // appProtocol wins over the name
            "http,              tcp-x,     80,    HTTP",
            "HTTP2,             -,         80,    HTTP2",
            "kubernetes.io/h2c, -,         80,    HTTP2",
            "grpc,              http,      80,    GRPC",
            "kubernetes.io/ws,  -,         80,    HTTP",
            "tcp,               http,      80,    TCP",
            "https,             -,         443,   TCP",
            // an unknown appProtocol does not fall back to the name (Istio ConvertProtocol)
            "example.com/foo,   http-web,  80,    AUTO",
            "example.com/foo,   -,         3306,  TCP",
            // name prefix before '-'
            "-,                 http,      80,    HTTP",
            "-,                 http-web,  80,    HTTP",
            "-,                 http2-x,   80,    HTTP2",
            "-,                 grpc-api,  9000,  GRPC",
            "-,                 grpc-web,  9000,  HTTP",
            "-,                 tcp-db,    5432,  TCP",
            "-,                 mysql,     3306,  TCP",
            "-,                 redis,     6379,  TCP",
            "-,                 tls-x,     443,   TCP",
            "-,                 web,       80,    AUTO",
            "-,                 -,         8080,  AUTO",
            // well-known server-first ports default to TCP
            "-,                 -,         3306,  TCP",
            "-,                 -,         25,    TCP",
            "-,                 -,         53,    TCP",
            "-,                 -,         27017, TCP",
            "-,                 database,  3306,  TCP",
    })
    void declared(String appProtocol, String name, int port, AppProtocol expected) {
        assertThat(AppProtocol.declared(appProtocol, name, port)).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource({"spiffe://cluster.local/ns/a/sa/b, true", "spiffe://td/ns/a/sa/b/c, false", "spiffe://td/ns//sa/b, false",
            "https://td/ns/a/sa/b, false", "spiffe://td/sa/b/ns/a, false"})
    void spiffeIds(String uri, boolean valid) {
        assertThat(SpiffeId.parse(uri)).isEqualTo(valid ? java.util.Optional.of(SpiffeId.parse(uri).orElseThrow())
                : java.util.Optional.empty());
        if (valid) {
            assertThat(SpiffeId.parse(uri).orElseThrow().uri()).isEqualTo(uri);
        }
    }
}
