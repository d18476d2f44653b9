// The front door: health, readiness, problem documents, static files,
// request limits, metrics.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const { startDaemon } = require('./lib/daemon');

let d;
test.before(async () => { d = await startDaemon(); });
test.after(async () => { if (d) await d.stop(); });

test('GET /healthz answers 200 without touching storage', async () => {
  const r = await fetch(d.baseUrl + '/healthz');
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(await r.json(), { status: 'ok' });
});

test('GET /readyz reports database and redis ok', async () => {
  const r = await fetch(d.baseUrl + '/readyz');
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(await r.json(), { status: 'ready', database: 'ok', redis: 'ok' });
});

test('unknown API route is an RFC 9457 problem with a request id', async () => {
  const r = await fetch(d.baseUrl + '/api/v1/nope');
  assert.strictEqual(r.status, 404);
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
  const body = await r.json();
  assert.strictEqual(body.status, 404);
  assert.strictEqual(body.title, 'Not Found');
  assert.strictEqual(body.instance, '/api/v1/nope');
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  assert.strictEqual(body.request_id, r.headers.get('x-request-id'));
});

test('a well-formed client request id is echoed back', async () => {
  const r = await fetch(d.baseUrl + '/api/v1/nope', { headers: { 'X-Request-Id': 'abc-123' } });
  assert.strictEqual(r.headers.get('x-request-id'), 'abc-123');
  const bad = await fetch(d.baseUrl + '/api/v1/nope', { headers: { 'X-Request-Id': 'a b"c' } });
  assert.match(bad.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('wrong method on a known route is 405 with Allow', async () => {
  const r = await fetch(d.baseUrl + '/readyz', { method: 'POST', body: '{}' });
  assert.strictEqual(r.status, 405);
  assert.strictEqual(r.headers.get('allow'), 'GET');
});

test('a body larger than max_body_bytes is refused with 413', async () => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  const r = await fetch(d.baseUrl + '/api/v1/anything', { method: 'POST', body: big,
    headers: { 'content-type': 'application/json' } });
  assert.strictEqual(r.status, 413);
  assert.match(r.headers.get('content-type'), /problem\+json/);
});

test('an empty body with Content-Length: 0 is answered for every method', async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const r = await fetch(d.baseUrl + '/api/v1/nope', { method, headers: { 'content-length': '0' },
      signal: AbortSignal.timeout(5000) });
    assert.strictEqual(r.status, 404, method);
  }
});

test('static files are served from web_dir and traversal is refused', async () => {
  const r = await fetch(d.baseUrl + '/');
  assert.strictEqual(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  const t = await fetch(d.baseUrl + '/no-such-file.js');
  assert.strictEqual(t.status, 404);
  // fetch normalises "..", so send a raw request line.
  const raw = await new Promise((resolve, reject) => {
    const s = net.connect(d.port, '127.0.0.1', () => {
      s.write('GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    let buf = '';
    s.on('data', (c) => { buf += c; });
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
  assert.doesNotMatch(raw, /root:x:0:0/);
});

test('/metrics exposes counters in Prometheus text format', async () => {
  const r = await fetch(d.baseUrl + '/metrics');
  assert.strictEqual(r.status, 200);
  const text = await r.text();
  assert.match(text, /^mentorlink_http_requests_total \d+$/m);
  assert.match(text, /^mentorlink_ws_connections \d+$/m);
});

test('garbage on the HTTP port does not hurt the server', async () => {
  await new Promise((resolve) => {
    const s = net.connect(d.port, '127.0.0.1', () => {
      s.write(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
      s.write('GARBAGE /\x00\x01 HTTP/9.9\r\n\r\n');
      setTimeout(() => { s.destroy(); resolve(); }, 200);
    });
    s.on('error', () => resolve());
  });
  const r = await fetch(d.baseUrl + '/healthz');
  assert.strictEqual(r.status, 200);
});

// A raw HTTP/1.1 exchange: everything the server sent until it closed.
function rawExchange(request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(d.port, '127.0.0.1', () => sock.end(request));
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.setTimeout(10000, () => sock.destroy(new Error('no answer')));
  });
}

test('HEAD answers headers only: unknown files, unknown API routes, known files', async () => {
  for (const p of ['/no-such-file.html', '/api/v1/nope', '/']) {
    const text = await rawExchange(`HEAD ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const end = text.indexOf('\r\n\r\n');
    assert.ok(end > 0, `${p}: ${text}`);
    assert.match(text, p === '/' ? /^HTTP\/1\.1 200/ : /^HTTP\/1\.1 404/, `${p}: ${text}`);
    assert.strictEqual(text.slice(end + 4), '', `HEAD ${p} must not carry a body`);
  }
  // the same unknown file with GET has its problem body
  const get = await fetch(d.baseUrl + '/no-such-file.html');
  assert.strictEqual(get.status, 404);
  assert.strictEqual((await get.json()).status, 404);
});
