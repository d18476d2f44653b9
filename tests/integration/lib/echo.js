// Helpers for tests that drive web/echo.html in Chromium: open the page,
// wait for the echo to flow, read getStats summaries.
'use strict';
const assert = require('node:assert');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn() until it returns a truthy value; throw with `what` on timeout.
async function until(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

// Open the echo page of daemon d (query: e.g. 'relay=1') and wait until the
// peer connection is connected. Returns the page.
async function openEcho(browser, d, query = '', timeoutMs = 30000) {
  const page = await browser.newPage();
  await page.goto(`${d.baseUrl}/echo.html${query ? '?' + query : ''}`);
  try {
    await page.waitForFunction(() => window.echoState && (window.echoState.phase === 'connected'
      || window.echoState.phase === 'failed' || window.echoState.phase === 'closed'), null, { timeout: timeoutMs });
  } catch (e) {
    const st = await page.evaluate(() => window.echoState).catch(() => null);
    throw new Error(`echo page did not connect: ${JSON.stringify(st)}\nbrowser:\n${browser.logs.join('\n')}\ndaemon:\n${d.logs().slice(-3000)}`);
  }
  const st = await page.evaluate(() => window.echoState);
  assert.strictEqual(st.phase, 'connected', `echo failed: ${JSON.stringify(st)}\n${browser.logs.join('\n')}`);
  return page;
}

const stats = (page) => page.evaluate(() => window.echoStats());

// Wait until the echoed video has decoded more than minFrames frames, then
// check over intervalMs that video frames and audio packets keep coming.
// Returns [first, second] stats samples.
async function assertMediaFlows(page, { minFrames = 30, intervalMs = 2000, timeoutMs = 30000 } = {}) {
  const s1 = await until(async () => {
    const s = await stats(page);
    return s && s.inbound.video && s.inbound.video.framesDecoded > minFrames && s.inbound.audio
      && s.inbound.audio.packetsReceived > 0 ? s : null;
  }, timeoutMs, `more than ${minFrames} echoed video frames decoded`);
  await sleep(intervalMs);
  const s2 = await stats(page);
  assert.ok(s2.inbound.video.framesDecoded > s1.inbound.video.framesDecoded,
    `video frames stopped: ${s1.inbound.video.framesDecoded} -> ${s2.inbound.video.framesDecoded}`);
  assert.ok(s2.inbound.audio.packetsReceived > s1.inbound.audio.packetsReceived,
    `audio packets stopped: ${s1.inbound.audio.packetsReceived} -> ${s2.inbound.audio.packetsReceived}`);
  return [s1, s2];
}

// Send a string and a binary message on the data channel; both must come
// back unchanged and with the same type.
async function assertDataChannelEcho(page) {
  await page.waitForFunction(() => window.echoState.dcOpen, null, { timeout: 15000 });
  const text = 'hello, echo \u2713 \u00fcn\u00efcode';
  const r1 = await page.evaluate((t) => window.echoSendDc(t), text);
  assert.deepStrictEqual(r1, { type: 'string', data: text });
  const bytes = Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 0xff);
  const r2 = await page.evaluate((b) => window.echoSendDc(b), bytes);
  assert.strictEqual(r2.type, 'binary');
  assert.deepStrictEqual(r2.data, bytes);
  const r3 = await page.evaluate(() => window.echoSendDc(''));
  assert.deepStrictEqual(r3, { type: 'string', data: '' });
}

module.exports = { sleep, until, openEcho, stats, assertMediaFlows, assertDataChannelEcho };
