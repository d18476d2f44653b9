// TURN: a local coturn with TURN REST credentials; the daemon hands out
// time-limited credentials in `joined`, and Chromium with
// iceTransportPolicy "relay" (?relay=1) still gets its echo, through a
// relay candidate.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { startTurn } = require('./lib/turn');
const { openEcho, assertMediaFlows, assertDataChannelEcho } = require('./lib/echo');

let turn, d, browser;
before(async () => {
  turn = await startTurn();
  d = await startDaemon({ config: { ice_interfaces: '127.0.0.1', turn_uri: turn.uri, turn_secret: turn.secret, turn_credential_ttl_s: 600 } });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
  if (turn) await turn.stop();
});

test('media flows through TURN with relay-only ICE', { timeout: 120000 }, async () => {
  let page;
  try {
    page = await openEcho(browser, d, 'relay=1', 40000);
  } catch (e) {
    throw new Error(`${e.message}\nturn log:\n${turn.log().slice(-3000)}`);
  }
  try {
    const st = await page.evaluate(() => window.echoState);
    const srv = st.iceServers.find((s) => String(s.urls).startsWith('turn:'));
    assert.ok(srv, JSON.stringify(st.iceServers));
    assert.match(srv.username, /^\d+:peer\d+$/);
    const expiry = Number(srv.username.split(':')[0]);
    const now = Date.now() / 1000;
    assert.ok(expiry > now + 500 && expiry < now + 700, `expiry ${expiry}`);
    assert.ok(srv.credential.length >= 20);
    const [, s2] = await assertMediaFlows(page);
    assert.strictEqual(s2.local.type, 'relay');
    assert.strictEqual(s2.local.relayProtocol, 'udp');
    await assertDataChannelEcho(page);
  } finally {
    await page.close();
  }
});
