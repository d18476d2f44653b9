// A viewer's m-line bound to another track (docs/signaling.md, `offer`:
// "a mid bound to another track keeps its SSRC and its numbering goes
// on"). The web client never rebinds (it adds an m-line per track), so the
// test sends the offer itself: the mentor publishes a camera and a screen,
// the mentee receives both, then re-sends its current offer with the two
// m-lines' bindings swapped. Each m-line keeps its SSRC, so the browser's
// SRTP and jitter buffer see one stream: it must go on decoding, without a
// jump in sequence numbers (counted as loss) or numbers used again (SRTP
// replays, dropped: a freeze).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, assertFlowing, until, sleep, roomStats, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv()));
after(() => stopRoomEnv(browser, d));

test('room: swapping two bindings keeps both streams decoding', { timeout: 120000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'rebind', role: 'mentor', name: 'M', screen: '1' });
  const mentee = await openRoom(browser, d, { room: 'rebind', role: 'mentee', name: 'S' });
  const idM = await mentor.evaluate(() => window.roomState.peerId);
  const videoTracks = async () => (await mentee.evaluate(() => window.room.tracks()))
    .filter((t) => t.kind === 'video' && t.participant === idM).map((t) => t.track);
  await until(async () => (await videoTracks()).length === 2, 20000, 'camera and screen tracks');
  const [ta, tb] = (await videoTracks()).sort();
  await assertFlowing(mentee, (t) => t.track === ta, 'first video');
  await assertFlowing(mentee, (t) => t.track === tb, 'second video');
  const s0 = await roomStats(mentee);
  const midA = s0.inbound[ta].mid, midB = s0.inbound[tb].mid;
  assert.ok(midA && midB && midA !== midB, JSON.stringify(s0.inbound));

  const ans = await mentee.evaluate(async ([ma, mb, a, b]) => {
    const sdp = window.roomPc.localDescription.sdp;
    return window.room.request({ type: 'offer', sdp, subscribe: { [ma]: b, [mb]: a } });
  }, [midA, midB, ta, tb]);
  assert.strictEqual(ans.type, 'answer');
  // the answer names the new sources on the m-lines (msid track ids)
  assert.ok(ans.sdp.includes(tb) && ans.sdp.includes(ta), ans.sdp);

  const s1 = await roomStats(mentee);
  await sleep(4000);
  const s2 = await roomStats(mentee);
  for (const t of [ta, tb]) {
    const [x1, x2] = [s1.inbound[t], s2.inbound[t]];
    const fr = x2.framesDecoded - x1.framesDecoded, lost = x2.packetsLost - x1.packetsLost;
    console.log('rebind', t, JSON.stringify({ mid: x2.mid, frames: fr, lost, packets: x2.packetsReceived - x1.packetsReceived }));
    assert.ok(fr > 20, `mid ${x2.mid}: ${fr} frames decoded in 4 s after the swap`);
    assert.ok(lost < 30, `mid ${x2.mid}: ${lost} packets counted lost (a sequence jump?)`);
  }
  await mentor.close();
  await mentee.close();
});
