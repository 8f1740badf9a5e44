package dev.waypoint.transport;

import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2StreamChannel;

/**
 * {@link EmbeddedChannel}s standing in for the two kinds of tunnel end, sharing one embedded event
 * loop as {@link Relay} requires: an HTTP/2 CONNECT stream and a socket that can half-close.
 * Reads are counted; writes can be stalled (a peer that does not read) to test backpressure.
 */
final class TestEnds {
    private TestEnds() {}

    /** Marks, in a {@link Socket}'s outbound messages, where its output was shut down. */
    static final String FIN = "FIN";

    /** A tunnel end on the loop of {@code loopOwner} (or its own loop when null). */
    abstract static class End extends EmbeddedChannel {
        /** {@code read()} calls that reached the transport. */
        int reads;
        /** While set, flushed writes stay in the outbound buffer (the far side reads nothing). */
        boolean stalled;
        private AbstractUnsafe raw;

        End(EmbeddedChannel loopOwner) {
            super(EmbeddedChannel.builder().register(false));
            if (loopOwner == null) {
                try {
                    register();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            } else {
                loopOwner.eventLoop().register(this).syncUninterruptibly();
            }
        }

        @Override
        protected AbstractUnsafe newUnsafe() {
            raw = super.newUnsafe(); // called from the constructor of AbstractChannel
            return raw;
        }

        AbstractUnsafe rawUnsafe() {
            return raw;
        }

        /**
         * Closes as a real transport does: inactive at once, {@code channelInactive} as a task of
         * the loop (EmbeddedChannel.close() would run it right away).
         */
        void closeAsTransport() {
            raw.close(voidPromise());
        }

        @Override
        protected void doBeginRead() {
            reads++;
        }

        @Override
        protected void doWrite(ChannelOutboundBuffer in) throws Exception {
            if (!stalled) {
                super.doWrite(in);
            }
        }

        /** The far side reads again: what was held is written. */
        void unstall() {
            stalled = false;
            flush();
            runPendingTasks();
        }
    }

    /** An HTTP/2 stream: {@link HalfClose} sends END_STREAM and RST_STREAM frames on it. */
    static final class Stream extends End implements Http2StreamChannel {
        Stream(EmbeddedChannel loopOwner) {
            super(loopOwner);
        }

        @Override
        public Http2FrameStream stream() {
            return null;
        }
    }

    /**
     * A socket. {@code shutdownOutput} is Netty's own ({@code AbstractUnsafe}): like a real socket
     * it fails writes still in the outbound buffer. {@code SO_LINGER} is recorded (0 means the
     * close is a reset).
     */
    static final class Socket extends End implements DuplexChannel {
        private LingerConfig config;
        boolean outputShutdown;
        boolean inputShutdown;

        Socket(EmbeddedChannel loopOwner) {
            super(loopOwner);
        }

        @Override
        public ChannelConfig config() {
            if (config == null) { // first called from the superclass constructor
                config = new LingerConfig(this);
            }
            return config;
        }

        /** The SO_LINGER set before close, or null. */
        Integer linger() {
            return config.linger;
        }

        @Override
        protected void doShutdownOutput() {
            outputShutdown = true; // the FIN; Netty's default would close the channel
            outboundMessages().add(FIN); // in order with the bytes written before it
        }

        @Override
        public boolean isInputShutdown() {
            return inputShutdown;
        }

        @Override
        public ChannelFuture shutdownInput() {
            return shutdownInput(newPromise());
        }

        @Override
        public ChannelFuture shutdownInput(ChannelPromise promise) {
            inputShutdown = true;
            return promise.setSuccess();
        }

        @Override
        public boolean isOutputShutdown() {
            return outputShutdown;
        }

        @Override
        public ChannelFuture shutdownOutput() {
            return shutdownOutput(newPromise());
        }

        @Override
        public ChannelFuture shutdownOutput(ChannelPromise promise) {
            rawUnsafe().shutdownOutput(promise);
            return promise;
        }

        @Override
        public boolean isShutdown() {
            return inputShutdown && outputShutdown;
        }

        @Override
        public ChannelFuture shutdown() {
            return shutdown(newPromise());
        }

        @Override
        public ChannelFuture shutdown(ChannelPromise promise) {
            inputShutdown = true;
            return shutdownOutput(promise);
        }
    }

    private static final class LingerConfig extends DefaultChannelConfig {
        Integer linger;

        LingerConfig(io.netty.channel.Channel channel) {
            super(channel);
        }

        @Override
        public <T> boolean setOption(ChannelOption<T> option, T value) {
            if (option == ChannelOption.SO_LINGER) {
                linger = (Integer) value;
                return true;
            }
            return super.setOption(option, value);
        }
    }
}
