// A renegotiation offer the server refuses leaves the session as it was.
// A mentee re-sends its last offer with its m-lines turned to sendonly (as
// if it published: building the answer would re-role them) and a DTLS
// fingerprint that differs from the session's: the offer is refused with
// bad_sdp, and the mentor's video and audio keep reaching the mentee.
// A later valid renegotiation (an ICE restart) still works.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, assertFlowing, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv()));
after(() => stopRoomEnv(browser, d));

test('room: a refused offer changes nothing', { timeout: 120000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'refused', role: 'mentor', name: 'M' });
  const mentee = await openRoom(browser, d, { room: 'refused', role: 'mentee', name: 'S' });
  const video = (t) => t.kind === 'video';
  const audio = (t) => t.kind === 'audio';
  await assertFlowing(mentee, video, 'mentee video before');
  const res = await mentee.evaluate(async () => {
    let sdp = window.roomPc.localDescription.sdp;
    const before = (sdp.match(/a=recvonly/g) || []).length;
    sdp = sdp.replace(/a=recvonly/g, 'a=sendonly');
    // another certificate's fingerprint (same hash, last byte changed)
    sdp = sdp.replace(/(a=fingerprint:sha-256 [0-9A-F:]*:)([0-9A-F]{2})/g,
      (x, head, last) => head + (last === '00' ? '01' : '00'));
    try {
      await window.room.request({ type: 'offer', sdp });
      return { before, ok: true };
    } catch (e) {
      return { before, error: e };
    }
  });
  assert.ok(res.before >= 2, `the mentee receives on recvonly m-lines: ${JSON.stringify(res)}`);
  assert.ok(!res.ok, 'the offer was refused');
  assert.strictEqual(res.error.code, 'bad_sdp', JSON.stringify(res.error));
  assert.match(res.error.message, /fingerprint/);
  // nothing changed: media keeps flowing to the mentee
  await assertFlowing(mentee, video, 'mentee video after the refused offer', { intervalMs: 3000 });
  await assertFlowing(mentee, audio, 'mentee audio after the refused offer');
  // and a valid renegotiation still goes through
  await mentee.evaluate(() => window.room.restartIce());
  await assertFlowing(mentee, video, 'mentee video after an ICE restart');
  await mentor.close();
  await mentee.close();
});
