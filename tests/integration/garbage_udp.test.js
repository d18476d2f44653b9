// Garbage on the media port: while Chromium echoes, random datagrams (and
// datagrams that look like STUN, DTLS and RTP/RTCP by their first byte) are
// sent to the server's ICE port from another socket. The browser's media
// must keep flowing and the server must stay up.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const dgram = require('dgram');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { openEcho, assertMediaFlows, assertDataChannelEcho, stats, sleep } = require('./lib/echo');

let d, browser;
before(async () => {
  d = await startDaemon({ config: { ice_interfaces: '127.0.0.1' } });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
});

function garbage(i) {
  const len = 1 + crypto.randomInt(1400);
  const b = crypto.randomBytes(len);
  // Cycle through the RFC 7983 ranges so every demux branch sees junk.
  const firsts = [null, 0x00, 0x01, 0x16, 0x17, 0x80, 0x90, 0xc8, 0x41];
  const f = firsts[i % firsts.length];
  if (f !== null) b[0] = f;
  if (f === 0x80 && len > 1) b[1] = 0xc8 + (i % 8); // RTCP-looking
  if (f === 0x00 && len >= 8) b.writeUInt32BE(0x2112a442, 4); // STUN magic cookie
  return b;
}

test('random datagrams to the ICE port do not disturb a connected browser', { timeout: 120000 }, async () => {
  const page = await openEcho(browser, d);
  try {
    await assertMediaFlows(page);
    const answer = await page.evaluate(() => window.echoState.answerSdp);
    const ports = [...answer.matchAll(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/g)].map((m) => Number(m[1]));
    assert.ok(ports.length > 0, 'no server host candidate in the answer');
    const before = await page.evaluate(() => window.echoServerStats());

    const sock = dgram.createSocket('udp4');
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) {
        for (const port of ports) {
          sock.send(garbage(sent), port, '127.0.0.1');
          sent++;
        }
      }
      await sleep(100);
    }
    sock.close();

    const s1 = await stats(page);
    await sleep(2000);
    const s2 = await stats(page);
    assert.ok(s2.inbound.video.framesDecoded > s1.inbound.video.framesDecoded, 'video stopped after garbage');
    assert.ok(s2.inbound.audio.packetsReceived > s1.inbound.audio.packetsReceived, 'audio stopped after garbage');
    await assertDataChannelEcho(page);
    const after = await page.evaluate(() => window.echoServerStats());
    assert.strictEqual(after.dtls, 'connected');
    assert.ok(after.counters.rtp_out > before.counters.rtp_out);
    // Whatever reached the peer from the garbage was dropped, not echoed.
    console.log(`# sent ${sent} garbage datagrams; server counters before/after: dropped ${before.counters.dropped} -> ${after.counters.dropped}, garbage ${after.counters.drop_garbage}, srtp auth ${after.counters.drop_srtp_auth}, dtls bad ${after.counters.dtls_bad_records}`);
    const r = await fetch(d.baseUrl + '/healthz');
    assert.strictEqual(r.status, 200);
  } finally {
    await page.close();
  }
});
