// Echo mode end to end: Chromium sends VP8 + Opus and a data channel to the
// daemon, which sends everything back. Once with the default SRTP profile
// preference (Chromium offers AEAD_AES_128_GCM, which we prefer) and once
// with the daemon limited to AES_CM_128_HMAC_SHA1_80.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { openEcho, assertMediaFlows, assertDataChannelEcho } = require('./lib/echo');

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { if (browser) await browser.close(); });

async function echoRun(config, cipher, profileName) {
  const d = await startDaemon({ config: { ice_interfaces: '127.0.0.1', ...config } });
  let page;
  try {
    page = await openEcho(browser, d);
    const [, s2] = await assertMediaFlows(page);
    assert.strictEqual(s2.inbound.video.codec, 'video/VP8');
    assert.strictEqual(s2.inbound.audio.codec, 'audio/opus');
    assert.strictEqual(s2.transport.dtlsState, 'connected');
    assert.strictEqual(s2.transport.srtpCipher, cipher);
    assert.strictEqual(s2.pair.state, 'succeeded');
    assert.strictEqual(s2.remote.address, '127.0.0.1');
    assert.strictEqual(s2.remote.type, 'host');
    await assertDataChannelEcho(page);
    const server = await page.evaluate(() => window.echoServerStats());
    assert.strictEqual(server.srtp_profile, profileName);
    assert.strictEqual(server.ice, 'connected');
    assert.strictEqual(server.dtls, 'connected');
    assert.ok(server.counters.rtp_in > 100 && server.counters.rtp_out > 100, JSON.stringify(server));
    assert.ok(server.counters.dc_messages_out >= 3, JSON.stringify(server));
    // every message was echoed whole: as many bytes out as in (3000 + text)
    assert.ok(server.counters.dc_bytes_out >= 3000, JSON.stringify(server));
    assert.strictEqual(server.counters.dc_bytes_out, server.counters.dc_bytes_in, JSON.stringify(server));
    assert.strictEqual(server.counters.drop_srtp_auth, 0);
    assert.match(server.selected.local, /^host 127\.0\.0\.1:\d+$/);
  } finally {
    if (page) await page.close();
    await d.stop();
  }
}

test('echo: VP8 + Opus + data channel, default SRTP profiles (AEAD_AES_128_GCM)', { timeout: 120000 },
  () => echoRun({}, 'SRTP_AEAD_AES_128_GCM', 'AEAD_AES_128_GCM'));

test('echo: srtp_profiles = aes_cm_128_hmac_sha1_80', { timeout: 120000 },
  () => echoRun({ srtp_profiles: 'aes_cm_128_hmac_sha1_80' }, 'SRTP_AES128_CM_HMAC_SHA1_80',
    'AES_CM_128_HMAC_SHA1_80'));
