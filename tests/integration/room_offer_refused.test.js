// A renegotiation offer the server refuses leaves the session as it was.
// A mentee re-sends its last offer with a receiving m-line turned to
// sendonly (as if it published: building the answer would re-role it) and
// a DTLS fingerprint that differs from the session's: the offer is refused with
// bad_sdp, and the mentor's video and audio keep reaching the mentee; so
// does an offer with the same fingerprint in which nothing is acceptable.
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
    const secs = window.roomPc.localDescription.sdp.split(/(?=^m=)/m);
    // turn one receiving m-line other than the first (BUNDLE's tag) to sendonly
    let k = -1;
    for (let i = 2; i < secs.length; i++) if (/a=recvonly/.test(secs[i])) k = i;
    if (k < 0) return { k };
    const kind = secs[k].slice(2, 7);
    secs[k] = secs[k].replace('a=recvonly', 'a=sendonly');
    // another certificate's fingerprint (same hash, last byte changed)
    const sdp = secs.join('').replace(/(a=fingerprint:sha-256 [0-9A-F:]*:)([0-9A-F]{2})/g,
      (x, head, last) => head + (last === '00' ? '01' : '00'));
    try {
      await window.room.request({ type: 'offer', sdp });
      return { k, kind, ok: true };
    } catch (e) {
      return { k, kind, error: e };
    }
  });
  assert.ok(res.k >= 2, `a second receiving m-line: ${JSON.stringify(res)}`);
  assert.ok(!res.ok, 'the offer was refused');
  assert.strictEqual(res.error.code, 'bad_sdp', JSON.stringify(res.error));
  assert.match(res.error.message, /fingerprint/);
  // the m-line that would have been re-roled still gets its media
  await assertFlowing(mentee, (t) => t.kind === res.kind, `mentee ${res.kind} after the refused offer`, { intervalMs: 3000 });
  // nothing changed: media keeps flowing to the mentee
  await assertFlowing(mentee, video, 'mentee video after the refused offer', { intervalMs: 3000 });
  await assertFlowing(mentee, audio, 'mentee audio after the refused offer');
  // The same fingerprint, but nothing acceptable: a mentee without the
  // floor may not publish (its sendonly m-lines are rejected) and a data
  // channel's m-line, if any, is turned off.
  const res2 = await mentee.evaluate(async () => {
    let sdp = window.roomPc.localDescription.sdp.replace(/a=recvonly/g, 'a=sendonly');
    sdp = sdp.replace(/m=application \d+/g, 'm=application 0');
    try {
      await window.room.request({ type: 'offer', sdp });
      return { ok: true };
    } catch (e) {
      return { error: e };
    }
  });
  assert.ok(!res2.ok, 'the offer was refused');
  assert.strictEqual(res2.error.code, 'bad_sdp', JSON.stringify(res2.error));
  await assertFlowing(mentee, video, 'mentee video after the second refused offer', { intervalMs: 3000 });
  // and a valid renegotiation still goes through
  await mentee.evaluate(() => window.room.restartIce());
  await assertFlowing(mentee, video, 'mentee video after an ICE restart');
  await mentor.close();
  await mentee.close();
});
