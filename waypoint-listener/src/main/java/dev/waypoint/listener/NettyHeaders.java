package dev.waypoint.listener;

import dev.waypoint.model.request.HeadersView;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;

/** {@link HeadersView} over a Netty header block, writing through. */
final class NettyHeaders implements HeadersView {
    private final HttpHeaders headers;

    NettyHeaders(HttpHeaders headers) {
        this.headers = headers;
    }

    @Override
    public String get(CharSequence name) {
        return headers.get(name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        return headers.getAll(name);
    }

    @Override
    public boolean contains(CharSequence name) {
        return headers.contains(name);
    }

    @Override
    public void set(CharSequence name, String value) {
        headers.set(name, value);
    }

    @Override
    public void add(CharSequence name, String value) {
        headers.add(name, value);
    }

    @Override
    public void remove(CharSequence name) {
        headers.remove(name);
    }

    @Override
    public void forEach(java.util.function.BiConsumer<String, String> action) {
        for (java.util.Iterator<java.util.Map.Entry<String, String>> it = headers.iteratorAsString(); it.hasNext(); ) {
            java.util.Map.Entry<String, String> e = it.next();
            action.accept(e.getKey(), e.getValue());
        }
    }
}
