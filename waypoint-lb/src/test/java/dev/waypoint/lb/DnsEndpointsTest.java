package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.waypoint.testing.TestDnsServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DnsEndpoints} against a real DNS server on a loopback UDP port ({@link TestDnsServer}),
 * with a hand-moved clock: an answer is kept for its TTL, asked again after it, and kept when the
 * new question fails. Loopback range 127.110.x.x.
 */
class DnsEndpointsTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private TestDnsServer server;
    private DnsEndpoints dns;

    @BeforeEach
    void start() throws Exception {
        server = TestDnsServer.start(new InetSocketAddress("127.110.9.1", 0));
        dns = new DnsEndpoints(List.of(server.address()), now::get);
    }

    @AfterEach
    void stop() {
        dns.close();
        server.close();
    }

    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    private List<InetAddress> first(String host) throws Exception {
        DnsEndpoints.Answer a = dns.firstAnswer(host).get(10, TimeUnit.SECONDS);
        return a.addresses();
    }

    @Test
    void anAnswerIsCachedForItsTtlAndAskedAgainAfterIt() throws Exception {
        server.answer("api.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.3"), ip("127.110.1.4")), 30));
        assertThat(first("api.example.test")).containsExactly(ip("127.110.1.3"), ip("127.110.1.4"));
        assertThat(server.questions("api.example.test")).isEqualTo(1);

        now.addAndGet(TimeUnit.SECONDS.toNanos(29));
        assertThat(dns.lookup("api.example.test")).containsExactly(ip("127.110.1.3"), ip("127.110.1.4"));
        assertThat(dns.lookup("API.example.test.")).as("names are case-insensitive, the root dot optional")
                .containsExactly(ip("127.110.1.3"), ip("127.110.1.4"));
        assertThat(server.questions("api.example.test")).as("within the TTL: no question").isEqualTo(1);

        server.answer("api.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.5")), 30));
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        assertThat(dns.lookup("api.example.test")).as("the expired answer serves while the new one comes")
                .containsExactly(ip("127.110.1.3"), ip("127.110.1.4"));
        await().atMost(Duration.ofSeconds(10)).until(() -> dns.lookup("api.example.test").equals(List.of(ip("127.110.1.5"))));
        assertThat(server.questions("api.example.test")).isEqualTo(2);
    }

    @Test
    void aNameWithoutAnARecordIsAskedForAaaa() throws Exception {
        server.answer("v6.example.test", new TestDnsServer.Records(List.of(ip("::1")), 30));
        assertThat(first("v6.example.test")).containsExactly(ip("::1"));
        assertThat(server.questions("v6.example.test")).as("A, then AAAA").isEqualTo(2);
    }

    @Test
    void anUnknownNameHasNoAddressesAndIsRetriedLater() throws Exception {
        assertThat(first("missing.example.test")).isEmpty();
        assertThat(dns.debug().get("missing.example.test.")).containsExactly("error: no such host");
        int asked = server.questions("missing.example.test");
        now.addAndGet(TimeUnit.SECONDS.toNanos(DnsEndpoints.RETRY_SECONDS - 1));
        dns.lookup("missing.example.test");
        assertThat(server.questions("missing.example.test")).isEqualTo(asked);

        server.answer("missing.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.6")), 30));
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        dns.lookup("missing.example.test");
        await().atMost(Duration.ofSeconds(10)).until(() -> dns.lookup("missing.example.test").equals(List.of(ip("127.110.1.6"))));
    }

    @Test
    void aFailedRefreshKeepsTheLastAddresses() throws Exception {
        server.answer("flaky.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.7")), 5));
        assertThat(first("flaky.example.test")).containsExactly(ip("127.110.1.7"));
        server.forget("flaky.example.test");
        now.addAndGet(TimeUnit.SECONDS.toNanos(5));
        dns.lookup("flaky.example.test");
        await().atMost(Duration.ofSeconds(10)).until(() -> server.questions("flaky.example.test") >= 2
                && dns.debug().get("flaky.example.test.").equals(List.of("127.110.1.7")));
        assertThat(dns.lookup("flaky.example.test")).containsExactly(ip("127.110.1.7"));
    }

    @Test
    void retainForgetsNamesNoLongerNamed() throws Exception {
        server.answer("a.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.8")), 30));
        dns.retain(List.of("a.example.test"));
        assertThat(first("a.example.test")).containsExactly(ip("127.110.1.8"));
        dns.retain(List.of());
        assertThat(dns.debug()).isEmpty();
    }

    private static long dnsThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("dns-")).count();
    }

    @Test
    void noResolverThreadUntilTheFirstNameAndNoneAfterClose() throws Exception {
        long before = dnsThreads();
        DnsEndpoints idle = new DnsEndpoints(List.of(server.address()), now::get);
        idle.retain(List.of()); // a snapshot without DNS names
        assertThat(idle.debug()).isEmpty();
        assertThat(dnsThreads()).isLessThanOrEqualTo(before);
        idle.close(); // never started: nothing to stop
        assertThatThrownBy(() -> idle.retain(List.of("a.example.test")))
                .isInstanceOf(java.util.concurrent.RejectedExecutionException.class);

        server.answer("a.example.test", new TestDnsServer.Records(List.of(ip("127.110.1.9")), 30));
        assertThat(first("a.example.test")).containsExactly(ip("127.110.1.9")); // the fixture's starts on demand
        assertThat(dnsThreads()).isGreaterThanOrEqualTo(1);
    }
}
