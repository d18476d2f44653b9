// Helpers for browser tests of room mode (web/room.html): open a
// participant page, wait for it to connect, poll getStats summaries.
'use strict';
const { until, sleep } = require('./echo');
const { startDaemon } = require('./daemon');
const { launchBrowser } = require('./browser');

// The usual fixture of a room test file: one headless browser and one
// daemon in room mode (no join tokens, ICE on loopback); `config` adds or
// overrides keys. Pair with stopRoomEnv in after().
async function startRoomEnv(config = {}) {
  const browser = await launchBrowser();
  try {
    const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1', ...config } });
    return { browser, d };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

async function stopRoomEnv(browser, d) {
  if (browser) await browser.close();
  if (d) await d.stop();
}

// Open room.html for daemon d with query {room, role, name, ...}; waits
// until the page has a connected peer connection.
async function openRoom(browser, d, query, timeoutMs = 30000, baseUrl = d.baseUrl) {
  const page = await browser.newPage();
  const qs = new URLSearchParams(query).toString();
  await page.goto(`${baseUrl}/room.html?${qs}`);
  try {
    await page.waitForFunction(() => window.roomState && (window.roomState.phase === 'connected'
      || window.roomState.phase === 'failed' || window.roomState.phase === 'closed'), null, { timeout: timeoutMs });
  } catch (e) {
    const st = await page.evaluate(() => window.roomState).catch(() => null);
    throw new Error(`room page did not connect: ${JSON.stringify(st)}\nbrowser:\n${browser.logs.slice(-40).join('\n')}\ndaemon:\n${d.logs().slice(-3000)}`);
  }
  const st = await page.evaluate(() => window.roomState);
  if (st.phase !== 'connected') throw new Error(`room page failed: ${JSON.stringify(st)}`);
  return page;
}

const roomStats = (page) => page.evaluate(() => window.room.stats());

// Inbound stats of the first received track matching pred(trackInfo, stat).
async function inboundOf(page, pred) {
  const [s, tracks] = await Promise.all([roomStats(page), page.evaluate(() => window.room.tracks())]);
  for (const t of tracks) {
    const st = s.inbound[t.track];
    if (st && pred(t, st)) return { track: t, stat: st };
  }
  return null;
}

// Wait until a received track matching pred decodes frames (video) or
// receives packets (audio), and check it keeps doing so over intervalMs.
async function assertFlowing(page, pred, what, { timeoutMs = 30000, intervalMs = 1500 } = {}) {
  const key = (x) => (x.stat.kind === 'video' ? x.stat.framesDecoded : x.stat.packetsReceived) || 0;
  const a = await until(async () => {
    const x = await inboundOf(page, pred);
    return x && key(x) > 10 ? x : null;
  }, timeoutMs, what);
  await sleep(intervalMs);
  const b = await inboundOf(page, (t) => t.track === a.track.track);
  if (!(key(b) > key(a))) throw new Error(`${what}: stopped (${key(a)} -> ${key(b)})`);
  return [a, b];
}

module.exports = { openRoom, roomStats, inboundOf, assertFlowing, until, sleep, startRoomEnv, stopRoomEnv };
