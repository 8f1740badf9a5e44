package dev.waypoint.listener;

import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.UpstreamStage;
import java.util.List;
import java.util.Objects;

/**
 * What runs for every inner HTTP request, in order: the filters, then the upstream stage. Built
 * once by the server ({@code InboundRequestPipeline}) and shared by every tunnel; immutable.
 */
public final class RequestChain {
    private final HttpFilter[] filters;
    private final UpstreamStage upstream;

    /** {@code filters} run in list order before {@code upstream}. */
    public RequestChain(List<HttpFilter> filters, UpstreamStage upstream) {
        this.filters = filters.toArray(new HttpFilter[0]);
        this.upstream = Objects.requireNonNull(upstream, "upstream");
    }

    HttpFilter[] filters() {
        return filters;
    }

    UpstreamStage upstream() {
        return upstream;
    }

    /**
     * The handler that runs this chain for one inner HTTP channel: the listener installs it
     * behind the inner codec (per HTTP/1.1 tunnel, or per inner HTTP/2 stream); benchmarks drive
     * it on an embedded channel. It speaks Netty {@code HttpObject}s.
     */
    public io.netty.channel.ChannelHandler exchangeHandler(TunnelContext tunnel, SnapshotSource snapshots, boolean h2) {
        return new ExchangeHandler(tunnel, snapshots, this, h2);
    }

    /** The filter names, in order (for the config dump and tests). */
    public List<String> names() {
        return java.util.Arrays.stream(filters).map(HttpFilter::name).toList();
    }
}
