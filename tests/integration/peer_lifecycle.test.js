// Peer lifecycle: a peer that never connects is freed after
// ice_connect_timeout_ms (the client gets `closed`), an ICE restart (new
// offer with new ICE credentials) keeps the echo going over the same DTLS
// session, and closing the WebSocket frees the peer on its worker.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { connect } = require('./lib/wsclient');
const { openEcho, assertMediaFlows, assertDataChannelEcho, until, stats, sleep } = require('./lib/echo');

let d, browser;
before(async () => {
  d = await startDaemon({ config: { ice_interfaces: '127.0.0.1', ice_connect_timeout_ms: 2000 } });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
});

test('a peer that never connects is closed after ice_connect_timeout_ms', async () => {
  const c = await connect(d.wsUrl);
  const j = await c.request({ type: 'join', room: 'r', mode: 'echo' }, 'joined');
  const t0 = Date.now();
  const closed = await c.next('closed', 10000);
  const dt = Date.now() - t0;
  assert.strictEqual(closed.reason, 'connect_timeout');
  assert.ok(dt > 1500 && dt < 6000, `closed after ${dt} ms`);
  assert.match(d.logs(), new RegExp(`peer ${j.peer_id} closed \\(connect_timeout\\)`));
  // The connection stays open and may join again.
  const j2 = await c.request({ type: 'join', room: 'r', mode: 'echo' }, 'joined');
  assert.ok(j2.peer_id > j.peer_id);
  c.close();
});

test('ICE restart keeps the echo and the DTLS session', { timeout: 90000 }, async () => {
  const page = await openEcho(browser, d);
  try {
    await assertMediaFlows(page);
    const before = await page.evaluate(() => window.echoServerStats());
    const ufrag1 = (await page.evaluate(() => window.echoState.answerSdp)).match(/a=ice-ufrag:(\S+)/)[1];
    await page.evaluate(() => window.echoRestartIce());
    const ufrag2 = (await page.evaluate(() => window.echoState.answerSdp)).match(/a=ice-ufrag:(\S+)/)[1];
    assert.notStrictEqual(ufrag1, ufrag2, 'the answer to a restart offer carries new ICE credentials');
    await until(async () => (await page.evaluate(() => window.echoState.pc.ice)) === 'connected', 15000, 'ICE connected again');
    const s1 = await stats(page);
    await sleep(2000);
    const s2 = await stats(page);
    assert.ok(s2.inbound.video.framesDecoded > s1.inbound.video.framesDecoded);
    assert.ok(s2.inbound.audio.packetsReceived > s1.inbound.audio.packetsReceived);
    await assertDataChannelEcho(page);
    const after = await page.evaluate(() => window.echoServerStats());
    assert.strictEqual(after.peer_id, before.peer_id);
    assert.strictEqual(after.dtls, 'connected');
    assert.strictEqual(after.counters.dtls_failures, 0);
  } finally {
    await page.close();
  }
});

test('closing the WebSocket frees the peer', { timeout: 60000 }, async () => {
  const page = await openEcho(browser, d);
  const peerId = await page.evaluate(() => window.echoState.peerId);
  await page.close(); // the socket goes with the page
  await until(() => new RegExp(`peer ${peerId} closed \\(closed by signaling\\)`).test(d.logs()), 10000, 'the peer to be freed');
});

test('ice_public_ip is announced as an extra host candidate with the same port', { timeout: 60000 }, async () => {
  const d2 = await startDaemon({ config: { ice_interfaces: '127.0.0.1', ice_public_ip: '203.0.113.7' } });
  let page;
  try {
    page = await openEcho(browser, d2);
    const sdp = await page.evaluate(() => window.echoState.answerSdp);
    const local = sdp.match(/a=candidate:\S+ 1 udp (\d+) 127\.0\.0\.1 (\d+) typ host/);
    const pub = sdp.match(/a=candidate:\S+ 1 udp (\d+) 203\.0\.113\.7 (\d+) typ host/);
    assert.ok(local && pub, sdp);
    assert.strictEqual(pub[2], local[2]);
    assert.ok(Number(pub[1]) < Number(local[1]));
    await assertMediaFlows(page);
  } finally {
    if (page) await page.close();
    await d2.stop();
  }
});
