// Room mode fan-out with real browsers: one mentor publishing simulcast VP8
// (l/m/h) + Opus + a canvas "screen share" (a second video track from
// canvas.captureStream(): headless Chromium has no screen to capture) and
// four mentees. Every mentee decodes the camera, receives the audio and the
// screen share; a mentee given the floor is heard by the others. The room
// runs with room_roster_limit 3, so its 5 members make it a large room: the
// mentees' client keeps the partial roster (docs/signaling.md, "Large rooms").
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, assertFlowing, until, inboundOf, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv({ room_roster_limit: 3 })));
after(() => stopRoomEnv(browser, d));

test('room: mentor + 4 mentees, camera/audio/screen fan-out, floor', { timeout: 150000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'fan', role: 'mentor', name: 'M', screen: '1' });
  const mentees = [];
  for (let i = 0; i < 4; i++)
    mentees.push(await openRoom(browser, d, { room: 'fan', role: 'mentee', name: `s${i}` }));
  const isCam = (t) => t.kind === 'video' && t.rids && t.rids.length === 3;
  const isScreen = (t) => t.kind === 'video' && (!t.rids || t.rids.length === 0);
  const isAudio = (t) => t.kind === 'audio';
  const report = [];
  await Promise.all(mentees.map(async (p, i) => {
    const [, cam] = await assertFlowing(p, isCam, `mentee ${i} camera frames`);
    const [, aud] = await assertFlowing(p, isAudio, `mentee ${i} audio packets`);
    const [, scr] = await assertFlowing(p, isScreen, `mentee ${i} screen frames`);
    report.push({ i, camFrames: cam.stat.framesDecoded, camHeight: cam.stat.frameHeight,
      audioPackets: aud.stat.packetsReceived, screenFrames: scr.stat.framesDecoded });
  }));
  console.log('fan-out', JSON.stringify(report));
  // The mentor's (beeping) microphone makes it the dominant speaker.
  const mentorId = await mentor.evaluate(() => window.roomState.peerId);
  for (const p of mentees)
    await until(() => p.evaluate(() => window.roomState.activeSpeaker), 10000, 'active-speaker event')
      .then((id) => assert.strictEqual(id, mentorId));

  // Large room: mentees know the mentor and the member count, the mentor
  // knows everyone.
  const roster = (p) => p.evaluate(() => ({ roster: window.roomState.roster, count: window.roomState.count,
    ids: Object.keys(window.roomState.participants).map(Number).sort((a, b) => a - b) }));
  const menteeIds = [];
  for (const p of mentees) menteeIds.push(await p.evaluate(() => window.roomState.peerId));
  for (const p of mentees) {
    await until(async () => (await roster(p)).count === 5, 5000, 'member count 5');
    assert.deepStrictEqual(await roster(p), { roster: 'partial', count: 5, ids: [mentorId] });
  }
  assert.deepStrictEqual(await roster(mentor), { roster: 'full', count: 5, ids: menteeIds.slice().sort((a, b) => a - b) });

  // Give mentee 0 the floor: its microphone reaches the others and the mentor.
  const id0 = menteeIds[0];
  await mentor.evaluate((id) => window.room.floor(id, true), id0);
  const fromMentee = (t) => t.kind === 'audio' && t.participant === id0;
  await until(async () => (await roster(mentees[1])).ids.includes(id0), 5000, 'mentee with the floor announced');
  assert.deepStrictEqual((await roster(mentees[1])).ids, [mentorId, id0].sort((a, b) => a - b));
  for (const p of [mentor, mentees[1], mentees[2], mentees[3]])
    await assertFlowing(p, fromMentee, 'promoted mentee audio');
  const x = await inboundOf(mentees[0], fromMentee);
  assert.strictEqual(x, null, 'a sender must not receive its own audio');
  // The mentor renegotiated (to receive the mentee): its camera keeps being
  // routed (its browser no longer sends mid/rid once our receiver reports
  // acknowledge the SSRCs, so the learned routes must survive).
  const c0 = (await inboundOf(mentees[1], isCam)).stat;
  await new Promise((r) => setTimeout(r, 3000));
  const c1 = (await inboundOf(mentees[1], isCam)).stat;
  console.log('camera after the mentor renegotiated', JSON.stringify({ frames: [c0.framesDecoded, c1.framesDecoded], lost: [c0.packetsLost, c1.packetsLost] }));
  assert.ok(c1.framesDecoded > c0.framesDecoded + 30, 'camera stopped after the mentor renegotiated');
  assert.ok(c1.packetsLost - c0.packetsLost < 20, 'camera packets lost after the mentor renegotiated');

  // Take it back: the track is withdrawn.
  await mentor.evaluate((id) => window.room.floor(id, false), id0);
  await until(async () => !(await inboundOf(mentees[1], fromMentee)), 10000, 'floor track removed');
  for (const p of [mentor, ...mentees]) await p.close();
});
