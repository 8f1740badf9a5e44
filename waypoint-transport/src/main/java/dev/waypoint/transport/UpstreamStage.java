package dev.waypoint.transport;

import dev.waypoint.model.request.RequestContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpRequest;

/**
 * The last stage of a request: forwards it to an endpoint and streams the response back through
 * an {@link ExchangeSink}. Implemented by the load-balancing module, called by the listener's
 * exchange handler once every filter continued; the listener depends on no stage module.
 */
@FunctionalInterface
public interface UpstreamStage {
    /**
     * Starts forwarding {@code head}; the body follows through the returned call.
     *
     * @param loop the request channel's event loop: everything (connections, timers, callbacks to
     *        {@code sink}) happens on it
     * @param h2Downstream whether the client speaks HTTP/2 on this request (then the upstream does
     *        too: gRPC and h2c stay HTTP/2 end to end)
     * @param head the request head; ownership moves to the stage (it is forwarded or released)
     */
    UpstreamCall start(RequestContext request, HttpRequest head, boolean h2Downstream, EventLoop loop, ExchangeSink sink);
}
