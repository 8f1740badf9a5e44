package dev.waypoint.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The transport in use: native epoll on Linux, NIO elsewhere. One place decides, so the server
 * socket, the client sockets and the event loops always match.
 */
public final class EventLoops {
    private EventLoops() {}

    /** True when native epoll is loaded. */
    public static boolean nativeTransport() {
        return Epoll.isAvailable();
    }

    /**
     * A new event-loop group.
     *
     * @param threads number of loops; 0 means Netty's default (2 × cores)
     * @param name thread name prefix ({@code hbone}, {@code admin})
     */
    public static EventLoopGroup newGroup(int threads, String name) {
        IoHandlerFactory io = nativeTransport() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), io);
    }

    /** Server socket channel class matching {@link #newGroup}. */
    public static Class<? extends ServerSocketChannel> serverChannel() {
        return nativeTransport() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** Client socket channel class matching {@link #newGroup}. */
    public static Class<? extends SocketChannel> clientChannel() {
        return nativeTransport() ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
