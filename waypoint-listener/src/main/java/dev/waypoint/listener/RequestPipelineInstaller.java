package dev.waypoint.listener;

import dev.waypoint.model.request.TunnelContext;
import io.netty.channel.Channel;

/**
 * Adds the per-request stages (routing, upstream, and later policy and telemetry) to a channel
 * that carries Netty {@code HttpObject}s: for HTTP/1.1 the tunnel itself (requests arrive one at
 * a time), for HTTP/2 each inner stream. Implemented by the server, so that the listener depends
 * on no stage module.
 */
@FunctionalInterface
public interface RequestPipelineInstaller {
    /**
     * Installs the stages at the end of {@code channel}'s pipeline.
     *
     * @param protocol {@link InnerProtocol#HTTP1} or {@link InnerProtocol#HTTP2}
     */
    void install(Channel channel, TunnelContext tunnel, InnerProtocol protocol);
}
