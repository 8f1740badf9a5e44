package dev.waypoint.testing;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small authoritative DNS server on a UDP port, for tests of {@code resolution: DNS}: answers
 * A and AAAA questions for the names it was given (with the given TTL), {@code NXDOMAIN} for
 * others, and counts the questions it was asked. Built on Netty's DNS codec (the same wire format
 * the waypoint's resolver speaks).
 *
 * <h2>Threading</h2>
 * Answers on its own event loop; {@link #answer} and {@link #questions} may be called from any thread.
 */
public final class TestDnsServer implements AutoCloseable {
    /** The answer for a name: its addresses (IPv4 for A, IPv6 for AAAA) and their TTL in seconds. */
    public record Records(List<InetAddress> addresses, int ttlSeconds) {
        public Records {
            addresses = List.copyOf(addresses);
        }
    }

    private final EventLoopGroup group;
    private final Channel channel;
    private final Map<String, Records> names = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> asked = new ConcurrentHashMap<>();

    private TestDnsServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Listens on {@code bind} (port 0: a free one). */
    public static TestDnsServer start(InetSocketAddress bind) throws InterruptedException {
        requireNonNull(bind, "bind");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("test-dns", true),
                NioIoHandler.newFactory());
        TestDnsServer[] self = new TestDnsServer[1];
        try {
            Channel ch = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                    .handler(new ChannelInitializer<DatagramChannel>() {
                        @Override
                        protected void initChannel(DatagramChannel ch) {
                            ch.pipeline().addLast(new DatagramDnsQueryDecoder(), new DatagramDnsResponseEncoder(),
                                    new SimpleChannelInboundHandler<DatagramDnsQuery>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery q) {
                                            self[0].reply(ctx, q);
                                        }
                                    });
                        }
                    }).bind(bind).sync().channel();
            self[0] = new TestDnsServer(group, ch);
            return self[0];
        } catch (InterruptedException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    /** The bound UDP address. */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** From now on, {@code name} resolves to {@code records} (replacing what it resolved to). */
    public void answer(String name, Records records) {
        names.put(key(name), records);
    }

    /** From now on, {@code name} is unknown ({@code NXDOMAIN}). */
    public void forget(String name) {
        names.remove(key(name));
    }

    /** How many questions (of any type) were asked about {@code name}. */
    public int questions(String name) {
        AtomicInteger n = asked.get(key(name));
        return n == null ? 0 : n.get();
    }

    private static String key(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".") ? n : n + ".";
    }

    private void reply(ChannelHandlerContext ctx, DatagramDnsQuery query) {
        DnsQuestion question = query.recordAt(DnsSection.QUESTION);
        DatagramDnsResponse response = new DatagramDnsResponse(query.recipient(), query.sender(), query.id());
        response.setRecursionAvailable(true);
        response.setAuthoritativeAnswer(true);
        if (question == null) {
            response.setCode(DnsResponseCode.FORMERR);
            ctx.writeAndFlush(response);
            return;
        }
        String name = key(question.name());
        asked.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
        response.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion(question.name(), question.type()));
        Records records = names.get(name);
        if (records == null) {
            response.setCode(DnsResponseCode.NXDOMAIN);
        } else {
            int length = question.type() == DnsRecordType.AAAA ? 16 : question.type() == DnsRecordType.A ? 4 : -1;
            for (InetAddress a : records.addresses()) {
                if (a.getAddress().length == length) {
                    response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(question.name(), question.type(),
                            records.ttlSeconds(), Unpooled.wrappedBuffer(a.getAddress())));
                }
            }
        }
        ctx.writeAndFlush(response);
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
