#!/usr/bin/env node
// A destination node's ztunnel built on Node's own HTTP/2 stack (node:http2), for interop tests.
//
// Terminates HBONE: mutual TLS (client certificate required and verified against --ca), ALPN h2,
// HTTP/2 CONNECT. For each CONNECT it prints what it saw as a JSON line on stdout, answers 200 once
// it connected to the target (the :authority, or --dial if given) and relays bytes both ways with
// half-close. Non-CONNECT requests get 400, failed dials 503 (ztunnel's inbound answers).
//
// usage: node dest_ztunnel.js --listen IP:PORT --cert FILE --key FILE --ca FILE [--dial HOST:PORT]
// stdout: {"event":"listening","address":..,"port":..}
//         {"event":"session","peer_uri_sans":[..],"alpn":..,"tls":..}          per TLS connection
//         {"event":"connect","authority":..,"headers":{..},"peer_uri_sans":[..],"alpn":..}  per CONNECT
// Exits when stdin closes (so it never outlives the test JVM).
'use strict';
const fs = require('node:fs');
const http2 = require('node:http2');
const net = require('node:net');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  if (i < 0 || i + 1 >= process.argv.length) {
    if (dflt !== undefined) return dflt;
    console.error('missing --' + name);
    process.exit(2);
  }
  return process.argv[i + 1];
}

function splitHostPort(s) {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function uriSans(socket) {
  const cert = socket.getPeerCertificate();
  const san = (cert && cert.subjectaltname) || '';
  return san.split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

const listen = splitHostPort(arg('listen'));
const dial = arg('dial', null);

const server = http2.createSecureServer({
  key: fs.readFileSync(arg('key')),
  cert: fs.readFileSync(arg('cert')),
  ca: fs.readFileSync(arg('ca')),
  requestCert: true,
  rejectUnauthorized: true,
  ALPNProtocols: ['h2'],
  allowHTTP1: false,
});

server.on('secureConnection', (tls) => {
  emit({ event: 'session', peer_uri_sans: uriSans(tls), alpn: tls.alpnProtocol, tls: tls.getProtocol() });
});
server.on('tlsClientError', (err) => console.error('tls client error:', err.message));
server.on('sessionError', (err) => console.error('session error:', err.message));

server.on('stream', (stream, headers) => {
  const socket = stream.session.socket;
  const method = headers[':method'];
  const authority = headers[':authority'];
  const plain = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === 'string' || Array.isArray(v)) plain[k] = v;
  }
  emit({ event: 'connect', method, authority, headers: plain, peer_uri_sans: uriSans(socket), alpn: socket.alpnProtocol });
  stream.on('error', (e) => console.error('stream error:', e.message));
  if (method !== 'CONNECT' || !authority) {
    stream.respond({ ':status': 400 }, { endStream: true });
    return;
  }
  const target = splitHostPort(dial || authority);
  const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
  upstream.once('error', (e) => {
    console.error('dial', target, 'failed:', e.message);
    if (!stream.headersSent && !stream.destroyed) {
      stream.respond({ ':status': 503 }, { endStream: true });
    } else {
      stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
    }
  });
  upstream.once('connect', () => {
    stream.respond({ ':status': 200 });
    stream.pipe(upstream);
    upstream.pipe(stream);
  });
  stream.once('close', () => upstream.destroy());
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

server.listen(listen.port, listen.host, () => {
  const a = server.address();
  emit({ event: 'listening', address: a.address, port: a.port });
});
