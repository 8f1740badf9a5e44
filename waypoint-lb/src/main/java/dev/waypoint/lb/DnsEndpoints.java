package dev.waypoint.lb;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Addresses of DNS names ({@code ServiceEntry} {@code resolution: DNS}), resolved off the data
 * path and cached for the answer's TTL, as Envoy's {@code STRICT_DNS} cluster with
 * {@code respect_dns_ttl} (which Istio sets) does.
 *
 * <ul>
 *   <li>A name is resolved when a snapshot first names it ({@link #retain}) and again on the first
 *       lookup after its TTL ran out; the lookup that finds it expired still gets the old
 *       addresses (a refresh never makes a backend flap to "no endpoints").</li>
 *   <li>A records first; AAAA when the name has no A record. The TTL is the smallest of the
 *       answer's records, at least {@link #MIN_TTL_SECONDS}. A failed resolution keeps the last
 *       addresses and is tried again after {@link #RETRY_SECONDS}.</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * Queries run on this class's own single event loop (never a data-path loop). {@link #lookup}
 * is lock-free and may be called from any thread: it reads one volatile field per name.
 *
 * <h2>Reference counting</h2>
 * The records of an answer are released here once their addresses are read.
 */
final class DnsEndpoints implements AutoCloseable {
    static final int MIN_TTL_SECONDS = 1;
    static final int RETRY_SECONDS = 5;

    private final List<InetSocketAddress> servers;
    /** The resolver's loop, made on the first name: most configs have no DNS ServiceEntry (a thread and ~80 classes at start). */
    private Resolver dns;
    private boolean closed;
    private final LongSupplier nanoTime;
    private final Map<String, Name> names = new ConcurrentHashMap<>();

    /**
     * @param servers DNS servers to ask, in order; empty for the system's ({@code /etc/resolv.conf})
     * @param nanoTime the clock TTLs are measured on ({@code System::nanoTime} outside tests)
     */
    DnsEndpoints(List<InetSocketAddress> servers, LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
        this.servers = List.copyOf(servers);
    }

    /** The DNS event loop and its resolver. */
    private record Resolver(EventLoopGroup group, EventLoop loop, DnsNameResolver resolver) {}

    /** The resolver, started on first use; after {@link #close()} a rejected execution, as a closed loop gives. */
    private synchronized Resolver dns() {
        if (dns == null) {
            if (closed) {
                throw new java.util.concurrent.RejectedExecutionException("DNS resolver closed");
            }
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("dns", true),
                    NioIoHandler.newFactory());
            EventLoop loop = group.next();
            dns = new Resolver(group, loop, new DnsNameResolverBuilder(loop)
                    .datagramChannelType(NioDatagramChannel.class)
                    .nameServerProvider(servers.isEmpty() ? DnsServerAddressStreamProviders.platformDefault()
                            : new SequentialDnsServerAddressStreamProvider(servers))
                    .queryTimeoutMillis(5_000)
                    .recursionDesired(true)
                    .build());
        }
        return dns;
    }

    private EventLoop loop() {
        return dns().loop();
    }

    /** What is known of one name. */
    record Answer(List<InetAddress> addresses, long expiresAt, String error) {}

    /** One name's state; {@code answer} is replaced whole, {@code inFlight} only on the DNS loop. */
    private static final class Name {
        volatile Answer answer;
        volatile Promise<Answer> inFlight;
        volatile Promise<Answer> first;
    }

    /**
     * The addresses of {@code host} now, or null when it was never resolved (a resolution is then
     * under way). An expired answer is returned and refreshed in the background.
     */
    List<InetAddress> lookup(String host) {
        Name n = names.computeIfAbsent(key(host), k -> newName(k));
        Answer a = n.answer;
        if (a == null) {
            return null;
        }
        if (nanoTime.getAsLong() - a.expiresAt() >= 0) {
            refresh(key(host), n);
        }
        return a.addresses();
    }

    /** Completes with the first answer for {@code host} (at once when there is one). Any thread. */
    Future<Answer> firstAnswer(String host) {
        Name n = names.computeIfAbsent(key(host), k -> newName(k));
        Answer a = n.answer;
        return a != null ? loop().newSucceededFuture(a) : n.first;
    }

    /** Starts resolving the names of a new snapshot and forgets the others. Any thread. */
    void retain(Collection<String> hosts) {
        Set<String> keep = new HashSet<>();
        for (String h : hosts) {
            keep.add(key(h));
            names.computeIfAbsent(key(h), k -> newName(k));
        }
        names.keySet().retainAll(keep);
    }

    /** For the config dump: {@code "api.example.com" -> ["93.184.216.34"]} (or the error). */
    Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        names.forEach((h, n) -> {
            Answer a = n.answer;
            out.put(h, a == null ? List.of("resolving") : a.error() != null && a.addresses().isEmpty()
                    ? List.of("error: " + a.error()) : a.addresses().stream().map(InetAddress::getHostAddress).toList());
        });
        return out;
    }

    private static String key(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        return h.endsWith(".") ? h : h + ".";
    }

    private Name newName(String key) {
        Name n = new Name();
        n.first = loop().newPromise();
        refresh(key, n);
        return n;
    }

    private void refresh(String key, Name n) {
        loop().execute(() -> {
            if (n.inFlight != null) {
                return;
            }
            Answer a = n.answer;
            if (a != null && nanoTime.getAsLong() - a.expiresAt() < 0) {
                return; // another lookup refreshed it already
            }
            Promise<Answer> p = loop().newPromise();
            n.inFlight = p;
            query(key, DnsRecordType.A).addListener(f -> {
                if (f.isSuccess() && !((Answer) f.getNow()).addresses().isEmpty()) {
                    done(n, p, f);
                } else {
                    // no A record (an empty answer, or the resolver's "no answer" failure): try AAAA;
                    // when that fails too, the A outcome is the one reported
                    query(key, DnsRecordType.AAAA).addListener(g -> done(n, p,
                            g.isSuccess() && !((Answer) g.getNow()).addresses().isEmpty() ? g : f));
                }
            });
        });
    }

    private void done(Name n, Promise<Answer> p, Future<?> f) {
        Answer previous = n.answer;
        Answer a;
        long now = nanoTime.getAsLong();
        if (f.isSuccess()) {
            a = (Answer) f.getNow();
        } else {
            String error = f.cause() instanceof UnknownHostException ? "no such host"
                    : String.valueOf(f.cause().getMessage());
            a = new Answer(previous == null ? List.of() : previous.addresses(),
                    now + TimeUnit.SECONDS.toNanos(RETRY_SECONDS), error);
        }
        n.answer = a;
        n.inFlight = null;
        p.trySuccess(a);
        n.first.trySuccess(a);
    }

    /** One question; completes with its addresses (possibly none) and their TTL. On the DNS loop. */
    private Future<Answer> query(String key, DnsRecordType type) {
        Resolver dns = dns();
        Promise<Answer> out = dns.loop().newPromise();
        dns.resolver().resolveAll(new DefaultDnsQuestion(key, type)).addListener(f -> {
            if (!f.isSuccess()) {
                out.setFailure(f.cause());
                return;
            }
            @SuppressWarnings("unchecked")
            List<DnsRecord> records = (List<DnsRecord>) f.getNow();
            List<InetAddress> addresses = new ArrayList<>();
            long ttl = Long.MAX_VALUE;
            try {
                for (DnsRecord r : records) {
                    if (r.type() != type || !(r instanceof DnsRawRecord raw)) {
                        continue;
                    }
                    ByteBuf content = raw.content();
                    if (content.readableBytes() != (type == DnsRecordType.A ? 4 : 16)) {
                        continue;
                    }
                    addresses.add(InetAddress.getByAddress(ByteBufUtil.getBytes(content)));
                    ttl = Math.min(ttl, r.timeToLive());
                }
            } finally {
                records.forEach(ReferenceCountUtil::release);
            }
            long seconds = addresses.isEmpty() ? RETRY_SECONDS : Math.max(MIN_TTL_SECONDS, ttl);
            out.setSuccess(new Answer(List.copyOf(addresses), nanoTime.getAsLong() + TimeUnit.SECONDS.toNanos(seconds), null));
        });
        return out;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (dns != null) {
            dns.resolver().close();
            dns.group().shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
