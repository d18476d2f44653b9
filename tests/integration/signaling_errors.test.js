// Signaling protocol errors: every bad input gets a clear error with its
// code (docs/signaling.md), the connection survives where it should, and
// afterwards the server is still healthy and another client still echoes.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { connect } = require('./lib/wsclient');
const { openEcho, assertMediaFlows, assertDataChannelEcho } = require('./lib/echo');

let d, browser, chromeOffer;

before(async () => {
  d = await startDaemon({ config: { ice_interfaces: '127.0.0.1', ws_max_message_bytes: 65536 } });
  browser = await launchBrowser();
  // A real Chromium offer to corrupt.
  const page = await browser.newPage();
  await page.goto(`${d.baseUrl}/echo.html?autostart=0`);
  chromeOffer = await page.evaluate(async () => {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const pc = new RTCPeerConnection();
    s.getTracks().forEach((t) => pc.addTransceiver(t, { streams: [s] }));
    pc.createDataChannel('x');
    const o = await pc.createOffer();
    pc.close();
    s.getTracks().forEach((t) => t.stop());
    return o.sdp;
  });
  await page.close();
});

after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
});

async function expectError(c, msg, code, re) {
  if (typeof msg === 'string') c.sendRaw(msg); else c.send(msg);
  const e = await c.next('error');
  assert.strictEqual(e.code, code, JSON.stringify(e));
  assert.ok(typeof e.message === 'string' && e.message.length > 0);
  if (re) assert.match(e.message, re);
  return e;
}

test('malformed JSON, unknown type, bad fields, binary frames', async () => {
  const c = await connect(d.wsUrl);
  await expectError(c, '{"type": "join", ', 'bad_json', /invalid JSON/);
  await expectError(c, '[1,2,3]', 'bad_json', /object/);
  const e = await expectError(c, { type: 'dance', id: 'q1' }, 'unknown_type', /dance/);
  assert.strictEqual(e.id, 'q1');
  await expectError(c, { id: 5 }, 'unknown_type', /type/);
  await expectError(c, { type: 'join', room: 'r' }, 'bad_request', /mode/);
  await expectError(c, { type: 'join', room: 'r', mode: 'karaoke' }, 'bad_request', /mode/);
  await expectError(c, { type: 'join', room: 'x'.repeat(100), mode: 'echo' }, 'bad_request', /room/);
  await expectError(c, { type: 'ping', id: { a: 1 } }, 'bad_request', /id/);
  c.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
  const b = await c.next('error');
  assert.strictEqual(b.code, 'bad_json');
  // The connection is still usable.
  const pong = await c.request({ type: 'ping', id: 42 }, 'pong');
  assert.strictEqual(pong.id, 42);
  c.close();
});

test('requests before join are refused with not_joined', async () => {
  const c = await connect(d.wsUrl);
  const e = await expectError(c, { type: 'offer', id: 1, sdp: chromeOffer }, 'not_joined', /join/);
  assert.strictEqual(e.id, 1);
  await expectError(c, { type: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' }, 'not_joined');
  await expectError(c, { type: 'stats' }, 'not_joined');
  c.close();
});

test('fragmented messages are reassembled', async () => {
  const c = await connect(d.wsUrl);
  const text = JSON.stringify({ type: 'ping', id: 'frag', pad: 'p'.repeat(9000) });
  const parts = [text.slice(0, 10), text.slice(10, 5000), text.slice(5000)];
  c.sendRaw(parts[0], { fin: false });
  c.sendRaw(parts[1], { fin: false });
  c.sendRaw(parts[2], { fin: true });
  const pong = await c.next('pong');
  assert.strictEqual(pong.id, 'frag');
  c.close();
});

test('oversized message: too_large, then the connection is closed', async () => {
  const c = await connect(d.wsUrl);
  c.send({ type: 'ping', pad: 'x'.repeat(70000) });
  const e = await c.next('error');
  assert.strictEqual(e.code, 'too_large');
  const closed = await c.waitClose();
  assert.strictEqual(closed.code, 1009);
});

test('oversized fragmented message is refused too', async () => {
  const c = await connect(d.wsUrl);
  for (let i = 0; i < 10; i++) c.sendRaw('y'.repeat(8000), { fin: false });
  c.sendRaw('"}', { fin: true });
  const e = await c.next('error');
  assert.strictEqual(e.code, 'too_large');
  await c.waitClose();
});

test('bad SDP and a garbage fingerprint give bad_sdp', async () => {
  const c = await connect(d.wsUrl);
  const j = await c.request({ type: 'join', id: 'j', room: 'r', mode: 'echo' }, 'joined');
  assert.strictEqual(j.id, 'j');
  assert.ok(Number.isInteger(j.peer_id));
  assert.ok(Array.isArray(j.ice_servers));
  await expectError(c, { type: 'join', room: 'r', mode: 'echo' }, 'already_joined');
  let e = await expectError(c, { type: 'offer', id: 'o1', sdp: 'hello world' }, 'bad_sdp');
  assert.strictEqual(e.id, 'o1');
  e = await expectError(c, { type: 'offer', id: 'o2', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' }, 'bad_sdp');
  assert.strictEqual(e.id, 'o2');
  const garbage = chromeOffer.replace(/a=fingerprint:sha-256 [0-9A-F:]+/g, 'a=fingerprint:sha-256 ZZ:not:a:fingerprint');
  assert.notStrictEqual(garbage, chromeOffer);
  e = await expectError(c, { type: 'offer', id: 'o3', sdp: garbage }, 'bad_sdp', /fingerprint/i);
  assert.strictEqual(e.id, 'o3');
  const nofp = chromeOffer.replace(/a=fingerprint:[^\r\n]*\r\n/g, '');
  await expectError(c, { type: 'offer', id: 'o4', sdp: nofp }, 'bad_sdp', /fingerprint/i);
  // A malformed candidate after a good offer.
  const a = await c.request({ type: 'offer', id: 'o5', sdp: chromeOffer }, 'answer');
  assert.strictEqual(a.id, 'o5');
  assert.match(a.sdp, /a=setup:passive/);
  await expectError(c, { type: 'candidate', id: 'c1', candidate: 'candidate:garbage' }, 'bad_request', /candidate/);
  const left = await c.request({ type: 'leave', id: 'l' }, 'left');
  assert.strictEqual(left.id, 'l');
  c.close();
});

test('after all that the server is healthy and another client echoes', { timeout: 90000 }, async () => {
  const r = await fetch(d.baseUrl + '/healthz');
  assert.strictEqual(r.status, 200);
  const page = await openEcho(browser, d);
  try {
    await assertMediaFlows(page);
    await assertDataChannelEcho(page);
  } finally {
    await page.close();
  }
});
