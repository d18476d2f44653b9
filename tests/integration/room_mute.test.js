// Server-side mute with real browsers. The mentor gives mentee A the floor
// and mutes A's microphone: everyone gets track-muted, the SFU stops
// forwarding it (mentee B and the mentor receive no more packets, A's
// drop_muted counts them), A cannot unmute itself, the mentor can; audio
// then resumes without a sequence gap (packetsLost stays small). A
// publisher mutes and unmutes its own camera: the mentees' video stops and
// comes back (from a keyframe). A mentee may not mute the mentor.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, assertFlowing, until, sleep, inboundOf, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv()));
after(() => stopRoomEnv(browser, d));

const mutedState = (p, track) => p.evaluate((t) => window.roomState.muted[t], track);
const tryRequest = (p, fn, ...args) => p.evaluate(async ([f, a]) => {
  try { return await window.room[f](...a); } catch (e) { return e; }
}, [fn, args]);

test('room: mute by the mentor and by the publisher', { timeout: 150000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'mute', role: 'mentor', name: 'M' });
  const a = await openRoom(browser, d, { room: 'mute', role: 'mentee', name: 'A' });
  const b = await openRoom(browser, d, { room: 'mute', role: 'mentee', name: 'B' });
  const idA = await a.evaluate(() => window.roomState.peerId);
  const idM = await mentor.evaluate(() => window.roomState.peerId);
  await mentor.evaluate((id) => window.room.floor(id, true), idA);
  const fromA = (t) => t.kind === 'audio' && t.participant === idA;
  await assertFlowing(b, fromA, 'B hears A');
  await assertFlowing(mentor, fromA, 'mentor hears A');
  const trackA = (await inboundOf(b, fromA)).track.track;

  // The mentor mutes A.
  const ack = await mentor.evaluate((t) => window.room.mute(t, true), trackA);
  assert.strictEqual(ack.for, 'mute');
  for (const p of [a, b, mentor])
    await until(async () => { const m = await mutedState(p, trackA); return m && m.muted && m.by === idM; }, 5000, 'track-muted event');
  await sleep(1000); // packets in flight
  const b1 = (await inboundOf(b, fromA)).stat;
  const m1 = (await inboundOf(mentor, fromA)).stat;
  const sa1 = await a.evaluate(() => window.room.serverStats());
  await sleep(2500);
  const b2 = (await inboundOf(b, fromA)).stat;
  const m2 = (await inboundOf(mentor, fromA)).stat;
  const sa2 = await a.evaluate(() => window.room.serverStats());
  console.log('muted:', JSON.stringify({ b: [b1.packetsReceived, b2.packetsReceived], mentor: [m1.packetsReceived, m2.packetsReceived],
    dropMuted: [sa1.counters.drop_muted, sa2.counters.drop_muted] }));
  assert.strictEqual(b2.packetsReceived, b1.packetsReceived, 'B still receives the muted track');
  assert.strictEqual(m2.packetsReceived, m1.packetsReceived, 'the mentor still receives the muted track');
  assert.ok(sa2.counters.drop_muted > sa1.counters.drop_muted, 'muted packets not counted');

  // A cannot lift the mentor's mute; a mentee cannot mute the mentor.
  const e1 = await tryRequest(a, 'mute', trackA, false);
  assert.strictEqual(e1.code, 'forbidden', JSON.stringify(e1));
  const camM = (await a.evaluate(() => window.room.tracks())).find((t) => t.kind === 'video' && t.participant === idM);
  const e2 = await tryRequest(b, 'mute', camM.track, true);
  assert.strictEqual(e2.code, 'forbidden', JSON.stringify(e2));
  const e3 = await tryRequest(b, 'mute', `${idA}:99`, true);
  assert.strictEqual(e3.code, 'not_in_room', JSON.stringify(e3));

  // The mentor unmutes: audio resumes without a gap.
  await mentor.evaluate((t) => window.room.mute(t, false), trackA);
  await until(async () => { const m = await mutedState(b, trackA); return m && !m.muted; }, 5000, 'unmute event');
  await until(async () => (await inboundOf(b, fromA)).stat.packetsReceived > b2.packetsReceived + 50, 10000, 'audio back at B');
  const b3 = (await inboundOf(b, fromA)).stat;
  console.log('unmuted:', JSON.stringify({ received: b3.packetsReceived, lost: [b2.packetsLost, b3.packetsLost] }));
  assert.ok(b3.packetsLost - b2.packetsLost < 10, `a sequence gap after unmute: lost ${b2.packetsLost} -> ${b3.packetsLost}`);

  // The mentor mutes its own camera: mentees' video stops, then resumes.
  const isCam = (t) => t.track === camM.track;
  try {
    await assertFlowing(b, isCam, 'B sees the camera');
  } catch (e) {
    const st = await b.evaluate(() => window.room.stats());
    const ss = await b.evaluate(() => window.room.serverStats());
    throw new Error(`${e.message}\nB inbound: ${JSON.stringify(st.inbound)}\nB server: ${JSON.stringify(ss.counters)}\ncam ${camM.track}`);
  }
  await mentor.evaluate((t) => window.room.mute(t, true), camM.track);
  await sleep(1000);
  const v1 = (await inboundOf(b, isCam)).stat;
  await sleep(2000);
  const v2 = (await inboundOf(b, isCam)).stat;
  assert.ok(v2.framesDecoded - v1.framesDecoded <= 1, `video still decoded while muted: ${v1.framesDecoded} -> ${v2.framesDecoded}`);
  await mentor.evaluate((t) => window.room.mute(t, false), camM.track);
  await until(async () => (await inboundOf(b, isCam)).stat.framesDecoded > v2.framesDecoded + 20, 10000, 'video back after unmute');
  const v3 = (await inboundOf(b, isCam)).stat;
  console.log('camera:', JSON.stringify({ frames: [v1.framesDecoded, v2.framesDecoded, v3.framesDecoded], lost: [v2.packetsLost, v3.packetsLost] }));
  assert.ok(v3.packetsLost - v2.packetsLost < 20, 'a sequence gap after the video unmute');
  for (const p of [a, b, mentor]) await p.close();
});
