// A third-party WebSocket client for WebSocketEndToEndTest: Node 20's WebSocket (undici, run with
// --experimental-websocket) and, for answers that are not 101, node:http's upgrade request.
// Usage: node --experimental-websocket websocket_client.mjs <mode> <url> [arg]
// Prints one JSON object per line; exits 0 when the scenario ran to its end, 1 on a timeout.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

const [mode, url, arg] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
setTimeout(() => { out({ event: 'timeout' }); process.exit(1); }, 60000).unref();

function open() {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('error', (e) => out({ event: 'error', message: String(e.message ?? e) }));
  ws.addEventListener('close', (e) => { out({ event: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean }); process.exit(0); });
  return ws;
}

function describe(data) {
  if (typeof data === 'string') return { kind: 'text', data };
  return { kind: 'binary', hex: Buffer.from(data).toString('hex') };
}

if (mode === 'echo') {
  // the conformance case: a text and a binary frame echoed back, then the client closes
  const ws = open();
  const want = 2;
  let got = 0;
  ws.addEventListener('open', () => {
    out({ event: 'open' });
    ws.send('Websocket Support!');
    ws.send(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  });
  ws.addEventListener('message', (m) => {
    out({ event: 'message', ...describe(m.data) });
    if (++got === want) ws.close(1000, 'client done');
  });
} else if (mode === 'large') {
  // one large binary message up and its echo down, compared by digest
  const size = Number(arg);
  const payload = randomBytes(size);
  const digest = createHash('sha256').update(payload).digest('hex');
  const ws = open();
  ws.addEventListener('open', () => { out({ event: 'open' }); ws.send(payload); });
  ws.addEventListener('message', (m) => {
    const back = Buffer.from(m.data);
    out({ event: 'large', size: back.length, match: createHash('sha256').update(back).digest('hex') === digest });
    ws.close(1000, 'client done');
  });
} else if (mode === 'backend-close') {
  // the backend starts the closing handshake
  const ws = open();
  ws.addEventListener('open', () => { out({ event: 'open' }); ws.send('close me'); });
  ws.addEventListener('message', (m) => out({ event: 'message', ...describe(m.data) }));
} else if (mode === 'raw') {
  // an upgrade request whose answer may not be 101: print what came back
  const req = http.request(url, {
    headers: {
      Connection: 'Upgrade', Upgrade: 'websocket',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13',
    },
  });
  req.on('response', (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => { body += c; });
    res.on('end', () => {
      out({ event: 'response', status: res.statusCode, connection: res.headers.connection ?? null,
            upgrade: res.headers.upgrade ?? null, server: res.headers['x-echo-server'] ?? null, body });
      process.exit(0);
    });
  });
  req.on('upgrade', (res, socket) => {
    out({ event: 'upgrade', status: res.statusCode, upgrade: res.headers.upgrade ?? null,
          server: res.headers['x-echo-server'] ?? null });
    socket.destroy();
    process.exit(0);
  });
  req.on('error', (e) => { out({ event: 'error', message: e.message }); process.exit(0); });
  req.end();
} else {
  out({ event: 'error', message: 'unknown mode ' + mode });
  process.exit(2);
}
