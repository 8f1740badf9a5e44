#!/usr/bin/python3
"""An HBONE client built on python3-h2 (Debian's), playing a source node's ztunnel.

Opens ONE mutual-TLS connection (ALPN h2) to --server, presenting the certificate in --certs
(Istio's file-mounted layout: cert-chain.pem, key.pem, root-cert.pem), and opens one stream per
AUTHORITY argument, all of them before reading any answer, so they run concurrently on the
connection. Each stream sends `CONNECT <authority>` with only :method and :authority, as ztunnel
does (or --method with :scheme/:path, for negative tests). On a 200 it speaks --inner inside the
tunnel, in DATA frames:
  http1  the --request template (`{i}`: stream index, `{authority}`; `\\r\\n` escapes honoured),
         then reads one HTTP/1.1 response (Content-Length, chunked, or until END_STREAM);
  h2c    a nested HTTP/2 connection (prior knowledge) with one GET --path;
  tcp    --payload, then END_STREAM at once; reads until the server's END_STREAM;
then half-closes (END_STREAM) and waits for the server to end its side.

Prints one JSON object per line to stdout:
  {"event": "tls", "version", "alpn", "peer_uri_sans"}
  {"event": "stream", "index", "authority", "status", "headers", "body",
   "inner_status", "inner_headers", "inner_body", "inner_complete", "closed"}   (per AUTHORITY, in order)
  {"event": "done", "ok"}
"closed" is "end_stream", "reset:<error code>", "open_after_half_close" (see --linger) or "timeout".
Exit status 0 when every stream ended, 1 on a timeout or connection failure, 2 on usage errors.

Run with /usr/bin/python3 (Debian's, where python3-h2 is installed).
"""
import argparse
import json
import os
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class InnerResponse:
    """Incremental HTTP/1.1 response parser (Content-Length, chunked, or until END_STREAM)."""

    def __init__(self):
        self.buf = b""
        self.status = None
        self.headers = {}
        self.body = b""
        self.complete = False
        self._length = None
        self._chunked = False
        self._rest = b""

    def feed(self, data):
        if self.complete:
            return
        if self.status is None:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._rest = self.buf[:end].decode("iso-8859-1"), self.buf[end + 4:]
            lines = head.split("\r\n")
            self.status = int(lines[0].split(" ")[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                k = k.strip().lower()
                self.headers[k] = (self.headers[k] + "," if k in self.headers else "") + v.strip()
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                self._chunked = True
            elif "content-length" in self.headers:
                self._length = int(self.headers["content-length"])
            data = b""
        self._rest += data
        if self._chunked:
            self._dechunk()
        elif self._length is not None:
            self.body, self._rest = self._rest, b""
            if len(self.body) >= self._length:
                self.body = self.body[:self._length]
                self.complete = True
        else:
            self.body, self._rest = self._rest, b""

    def _dechunk(self):
        while True:
            eol = self._rest.find(b"\r\n")
            if eol < 0:
                return
            size = int(self._rest[:eol].split(b";")[0], 16)
            if size == 0:
                self.complete = True  # trailers, if any, are ignored
                return
            if len(self._rest) < eol + 2 + size + 2:
                return
            self.body += self._rest[eol + 2:eol + 2 + size]
            self._rest = self._rest[eol + 2 + size + 2:]

    def as_json(self):
        return self.status, self.headers, self.body.decode("utf-8", "replace")


class InnerH2c:
    """An HTTP/2 (prior knowledge) client connection nested in the tunnel: one GET on stream 1."""

    def __init__(self, path, authority):
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        self.conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":path", path),
                                   (":authority", authority)], end_stream=True)
        self.status = None
        self.headers = {}
        self.body = b""
        self.complete = False

    def initial(self):
        return self.conn.data_to_send()

    def feed(self, data):
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == 1:
                hs = {k.decode(): v.decode() for k, v in ev.headers}
                self.status = int(hs.pop(":status"))
                self.headers = hs
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                self.body += ev.data
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)) and ev.stream_id == 1:
                self.complete = True
                self.conn.close_connection()
        return self.conn.data_to_send()

    def as_json(self):
        return self.status, self.headers, self.body.decode("utf-8", "replace")


class InnerTcp:
    """Opaque bytes: sends the payload, then half-closes; collects everything until END_STREAM."""

    def __init__(self, payload):
        self.payload = payload
        self.status = "tcp"
        self.body = b""
        self.complete = False

    def feed(self, data):
        self.body += data
        return b""

    def as_json(self):
        return None, {}, self.body.decode("utf-8", "replace")


class Stream:
    def __init__(self, index, authority):
        self.index = index
        self.authority = authority
        self.status = None
        self.headers = {}
        self.body = b""
        self.inner = None
        self.raw = None
        self.half_closed = False
        self.half_closed_at = None
        self.closed = None  # "end_stream", "reset:<code>"

    def result(self):
        out = {"event": "stream", "index": self.index, "authority": self.authority, "status": self.status,
               "headers": self.headers, "body": self.body.decode("utf-8", "replace"),
               "inner_status": None, "inner_headers": {}, "inner_body": "", "closed": self.closed or "timeout"}
        if self.inner is not None and self.inner.status is not None:
            out["inner_status"], out["inner_headers"], out["inner_body"] = self.inner.as_json()
            out["inner_complete"] = self.inner.complete
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True, help="host:port of the HBONE listener")
    p.add_argument("--certs", required=True, help="dir with cert-chain.pem, key.pem, root-cert.pem")
    p.add_argument("--method", default="CONNECT")
    p.add_argument("--inner", choices=["http1", "h2c", "tcp", "none"], default="http1",
                   help="what to speak inside each tunnel")
    p.add_argument("--request", default="GET / HTTP/1.1\\r\\nHost: {authority}\\r\\n\\r\\n",
                   help="http1: the request sent inside each tunnel")
    p.add_argument("--path", default="/", help="h2c: the :path of the inner GET ({i}: stream index)")
    p.add_argument("--payload", default="ping {i}\\n", help="tcp: bytes sent before half-closing")
    p.add_argument("--header", action="append", default=[], help="extra CONNECT header name=value")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--linger", type=float, default=None,
                   help="after our END_STREAM, wait at most this long for the server's; then the stream is "
                        "reported as \"open_after_half_close\" (default: until --timeout)")
    p.add_argument("authorities", nargs="+")
    a = p.parse_args()

    host, _, port = a.server.rpartition(":")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.check_hostname = False  # SPIFFE identities are URI SANs, not host names
    tls.verify_mode = ssl.CERT_REQUIRED
    tls.load_verify_locations(os.path.join(a.certs, "root-cert.pem"))
    tls.load_cert_chain(os.path.join(a.certs, "cert-chain.pem"), os.path.join(a.certs, "key.pem"))
    tls.set_alpn_protocols(["h2"])

    deadline = time.monotonic() + a.timeout
    raw = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
    sock = tls.wrap_socket(raw, server_hostname=None)
    peer = sock.getpeercert() or {}
    print(json.dumps({"event": "tls", "version": sock.version(), "alpn": sock.selected_alpn_protocol(),
                      "peer_uri_sans": [v for (k, v) in peer.get("subjectAltName", ()) if k == "URI"]}), flush=True)
    if sock.selected_alpn_protocol() != "h2":
        log("server did not select h2")
        return 1

    # ztunnel sends CONNECT with only :method and :authority (RFC 9113 8.5), which h2's outbound
    # validation would reject for lack of :scheme/:path
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding=None, validate_outbound_headers=False))
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})

    streams = {}
    for i, authority in enumerate(a.authorities):
        sid = conn.get_next_available_stream_id()
        if a.method == "CONNECT":
            headers = [(":method", "CONNECT"), (":authority", authority)]
        else:
            headers = [(":method", a.method), (":scheme", "https"), (":path", "/"), (":authority", authority)]
        for h in a.header:
            k, _, v = h.partition("=")
            headers.append((k.lower(), v))
        conn.send_headers(sid, headers, end_stream=(a.method != "CONNECT"))
        streams[sid] = Stream(i, authority)
    sock.sendall(conn.data_to_send())

    def expand(template, s):
        r = template.replace("\\r", "\r").replace("\\n", "\n")
        return r.replace("{i}", str(s.index)).replace("{authority}", s.authority)

    def open_inner(sid, s):
        """After a 200: start the inner protocol; returns the bytes to send first."""
        if a.inner == "http1":
            s.inner = InnerResponse()
            return expand(a.request, s).encode("ascii")
        if a.inner == "h2c":
            s.inner = InnerH2c(expand(a.path, s), s.authority)
            return s.inner.initial()
        if a.inner == "tcp":
            s.inner = InnerTcp(expand(a.payload, s).encode("ascii"))
            return s.inner.payload
        return None

    def half_close(sid, s):
        if not s.half_closed:
            s.half_closed = True
            s.half_closed_at = time.monotonic()
            try:
                conn.end_stream(sid)
            except h2.exceptions.StreamClosedError:
                pass  # the server ended and closed it in the same read (h2 applied its frames first)

    sock.setblocking(False)
    while any(s.closed is None for s in streams.values()):
        now = time.monotonic()
        if a.linger is not None:
            for s in streams.values():
                if s.closed is None and s.half_closed_at is not None and now - s.half_closed_at >= a.linger:
                    s.closed = "open_after_half_close"
            lingering = [s.half_closed_at + a.linger - now for s in streams.values()
                         if s.closed is None and s.half_closed_at is not None]
            if not any(s.closed is None for s in streams.values()):
                break
        else:
            lingering = []
        remaining = min([deadline - now] + lingering)
        if deadline - now <= 0:
            log("timed out")
            break
        if not sock.pending():
            r, _, _ = select.select([sock], [], [], max(remaining, 0.01))
            if not r:
                continue
        try:
            data = sock.recv(65536)
        except ssl.SSLWantReadError:
            continue
        if not data:
            log("connection closed by the server")
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                s = streams[ev.stream_id]
                hs = {k.decode(): v.decode() for k, v in ev.headers}
                s.status = int(hs.pop(":status"))
                s.headers = hs
                if s.status == 200 and a.method == "CONNECT":
                    first = open_inner(ev.stream_id, s)
                    if first:
                        conn.send_data(ev.stream_id, first)
                    if a.inner in ("tcp", "none"):
                        half_close(ev.stream_id, s)
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                s = streams[ev.stream_id]
                if s.inner is not None:
                    reply = s.inner.feed(ev.data)
                    if reply and not s.half_closed:
                        conn.send_data(ev.stream_id, reply)
                    if s.inner.complete:
                        half_close(ev.stream_id, s)
                else:
                    s.body += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                s = streams[ev.stream_id]
                if s.inner is not None and isinstance(s.inner, InnerTcp):
                    s.inner.complete = True
                if s.status == 200 and a.method == "CONNECT":
                    half_close(ev.stream_id, s)  # answer the server's half-close with ours
                s.closed = "end_stream"
            elif isinstance(ev, h2.events.StreamReset):
                streams[ev.stream_id].closed = "reset:%d" % ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                log("GOAWAY", ev.error_code, ev.additional_data)
        out = conn.data_to_send()
        if out:
            sock.setblocking(True)
            sock.sendall(out)
            sock.setblocking(False)

    ok = all(s.closed is not None for s in streams.values())
    for sid in sorted(streams):
        print(json.dumps(streams[sid].result()), flush=True)
    try:
        conn.close_connection()
        sock.setblocking(True)
        sock.sendall(conn.data_to_send())
        sock.close()
    except (OSError, h2.exceptions.ProtocolError):
        pass
    print(json.dumps({"event": "done", "ok": ok}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError) as e:
        log("error:", repr(e))
        sys.exit(1)
