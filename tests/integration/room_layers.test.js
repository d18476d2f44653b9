// Simulcast layer routing with real browsers: a mentee pinned to the low
// layer receives the mentor's low encoding, switches to the high one
// within seconds when it pins "h" (frames keep being decoded throughout),
// and while nobody watches the high layer the mentor is told to pause it
// (the page turns the encoding off with RTCRtpSender.setParameters).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, until, sleep, inboundOf, roomStats, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv()));
after(() => stopRoomEnv(browser, d));

const isCam = (t) => t.kind === 'video' && t.rids && t.rids.length === 3;

async function outboundHeights(mentor) {
  const s = await roomStats(mentor);
  const h = {};
  for (const o of s.outbound) if (o.kind === 'video' && o.rid) h[o.rid] = { height: o.frameHeight, frames: o.framesEncoded };
  return h;
}

test('room: pin l, pin h, pause of unwatched layers', { timeout: 120000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'layers', role: 'mentor', name: 'M' });
  const mentee = await openRoom(browser, d, { room: 'layers', role: 'mentee', name: 's', pin: 'l' });

  const low = await until(async () => {
    const x = await inboundOf(mentee, isCam);
    return x && x.stat.framesDecoded > 20 && x.stat.frameHeight ? x : null;
  }, 30000, 'low layer decoding');
  const track = low.track.track;
  // Wait for the pause of m and h (nobody watches them).
  const mid = track.split(':')[1];
  const layers = await until(async () => {
    const l = await mentor.evaluate((m) => window.roomState.layers[m], mid);
    return l && l.l === true && l.h === false && l.m === false ? l : null;
  }, 10000, 'mentor told to pause m and h');
  await sleep(1500);
  const lowNow = await inboundOf(mentee, isCam);
  const enc1 = await outboundHeights(mentor);
  await sleep(1000);
  const enc2 = await outboundHeights(mentor);
  console.log('pinned l:', JSON.stringify({ inbound: lowNow.stat, layers, enc1, enc2 }));
  assert.ok(enc2.h && enc1.h && enc2.h.frames === enc1.h.frames, `h still encoded: ${JSON.stringify([enc1, enc2])}`);
  assert.ok(enc2.l.frames > enc1.l.frames, 'l not encoded');
  assert.strictEqual(lowNow.stat.frameHeight, enc2.l.height, 'mentee does not receive the low layer');

  // Pin h: the mentor resumes h, the mentee switches within seconds while
  // frames keep being decoded.
  await mentee.evaluate((t) => window.room.setLayer(t, { pin: 'h' }), track);
  const t0 = Date.now();
  let prev = lowNow.stat.framesDecoded, stalls = 0, switchedAt = null, high = null;
  while (Date.now() - t0 < 15000) {
    await sleep(500);
    const x = await inboundOf(mentee, (t) => t.track === track);
    const enc = await outboundHeights(mentor);
    if (x.stat.framesDecoded <= prev) stalls++;
    prev = x.stat.framesDecoded;
    if (enc.h && enc.h.height && x.stat.frameHeight === enc.h.height && enc.h.height > enc.l.height) {
      switchedAt = Date.now() - t0;
      high = { inbound: x.stat, enc };
      break;
    }
  }
  console.log('pinned h:', JSON.stringify({ switchedAt, stalls, high }));
  assert.ok(switchedAt !== null, 'did not switch to the high layer within 15 s');
  assert.ok(stalls <= 2, `frames stopped during the switch (${stalls} stalled samples)`);
  const l2 = await mentor.evaluate((m) => window.roomState.layers[m], mid);
  assert.strictEqual(l2.h, true, 'h not resumed');

  // max_height 400 picks the middle layer (360 lines), resumed on demand.
  await mentee.evaluate((t) => window.room.setLayer(t, { max_height: 400 }), track);
  await until(async () => {
    const x = await inboundOf(mentee, (t) => t.track === track);
    const enc = await outboundHeights(mentor);
    return enc.m && enc.m.height && x.stat.frameHeight === enc.m.height ? x : null;
  }, 10000, 'middle layer for max_height 400');

  // And back to l.
  await mentee.evaluate((t) => window.room.setLayer(t, { pin: 'l' }), track);
  await until(async () => {
    const x = await inboundOf(mentee, (t) => t.track === track);
    const enc = await outboundHeights(mentor);
    return x.stat.frameHeight === enc.l.height ? x : null;
  }, 10000, 'back to the low layer');
  await mentee.close();
  await mentor.close();
});
