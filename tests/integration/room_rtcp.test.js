// RTCP reports in room mode with real browsers. The SFU sends a receiver
// report to the publishing mentor (its browser then knows the round trip:
// remote-inbound-rtp roundTripTime, from our LSR/DLSR) and a sender report
// for every stream it sends to a mentee (remote-outbound-rtp, whose counts
// must match what the mentee received, and whose NTP/RTP mapping must put
// the media's capture time next to the wall clock: the mentee's
// estimatedPlayoutTimestamp for audio and video lies within a second of
// now, and audio and video of one publisher within 300 ms of each other).
// The RTT the SFU derives from the mentee's receiver reports, and from the
// DLRR the mentor's browser answers to our XR RRTR, is reported.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { openRoom, assertFlowing, until, startRoomEnv, stopRoomEnv } = require('./lib/room');

let browser, d;
before(async () => ({ browser, d } = await startRoomEnv()));
after(() => stopRoomEnv(browser, d));

// Raw getStats entries of one type, as plain objects.
const statsOf = (page, type) => page.evaluate(async (ty) => {
  const r = await window.roomPc.getStats();
  const out = [];
  r.forEach((s) => { if (s.type === ty) out.push({ ...s }); });
  return out;
}, type);

const NTP_EPOCH_OFFSET_MS = 2208988800000;

test('room: SR to viewers, RR to the publisher, RTT both ways', { timeout: 120000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'rtcp', role: 'mentor', name: 'M' });
  const mentee = await openRoom(browser, d, { room: 'rtcp', role: 'mentee', name: 's' });
  await assertFlowing(mentee, (t) => t.kind === 'video', 'mentee video');
  await assertFlowing(mentee, (t) => t.kind === 'audio', 'mentee audio');

  // The mentor's browser measures the RTT from our receiver reports, for
  // its audio and for (at least one layer of) its video.
  const rin = await until(async () => {
    const s = await statsOf(mentor, 'remote-inbound-rtp');
    const ok = (k) => s.some((x) => x.kind === k && x.roundTripTime > 0 && x.roundTripTimeMeasurements > 0);
    return ok('audio') && ok('video') ? s : null;
  }, 30000, 'remote-inbound-rtp roundTripTime on the mentor');
  console.log('mentor remote-inbound-rtp', JSON.stringify(rin.map((x) => ({ kind: x.kind, rtt: x.roundTripTime,
    n: x.roundTripTimeMeasurements, lost: x.packetsLost, fl: x.fractionLost, jitter: x.jitter }))));
  for (const x of rin) {
    // a layer whose report came before any sender report of it has no
    // round trip yet (LSR 0); every one that has must be plausible
    if (x.roundTripTimeMeasurements > 0) assert.ok(x.roundTripTime < 1, `implausible RTT ${x.roundTripTime}`);
    assert.ok(x.packetsLost >= 0 && x.packetsLost < 50, `loss on loopback: ${x.packetsLost}`);
    assert.ok(x.jitter < 1, `jitter ${x.jitter}`);
  }

  // The mentee sees our sender reports for audio and video.
  const rout = await until(async () => {
    const s = await statsOf(mentee, 'remote-outbound-rtp');
    return s.some((x) => x.kind === 'audio' && x.packetsSent > 0) && s.some((x) => x.kind === 'video' && x.packetsSent > 0) ? s : null;
  }, 30000, 'remote-outbound-rtp on the mentee');
  const inb = await statsOf(mentee, 'inbound-rtp');
  console.log('mentee remote-outbound-rtp', JSON.stringify(rout.map((x) => ({ kind: x.kind, sent: x.packetsSent,
    bytes: x.bytesSent, ts: x.remoteTimestamp, reports: x.reportsSent }))));
  const now = Date.now();
  for (const x of rout) {
    const i = inb.find((y) => y.kind === x.kind);
    assert.ok(i, `no inbound-rtp for ${x.kind}`);
    // Counts as sent (the SR is up to ~1.5 s older than the inbound stats).
    assert.ok(x.packetsSent <= i.packetsReceived + 50 && x.packetsSent > i.packetsReceived * 0.3,
      `${x.kind}: SR packet count ${x.packetsSent} vs received ${i.packetsReceived}`);
    assert.ok(Math.abs(x.remoteTimestamp - now) < 10000, `${x.kind}: SR NTP time ${x.remoteTimestamp} vs now ${now}`);
  }

  // NTP/RTP mapping: capture times the mentee derives from our SRs.
  const play = await until(async () => {
    const s = await statsOf(mentee, 'inbound-rtp');
    const a = s.find((x) => x.kind === 'audio' && x.estimatedPlayoutTimestamp);
    const v = s.find((x) => x.kind === 'video' && x.estimatedPlayoutTimestamp);
    return a && v ? { a: a.estimatedPlayoutTimestamp, v: v.estimatedPlayoutTimestamp, now: Date.now() } : null;
  }, 20000, 'estimatedPlayoutTimestamp');
  const wall = play.now + NTP_EPOCH_OFFSET_MS;
  console.log('playout', JSON.stringify({ audio: play.a - wall, video: play.v - wall }));
  assert.ok(Math.abs(play.a - wall) < 1000, `audio playout ${play.a - wall} ms from now`);
  assert.ok(Math.abs(play.v - wall) < 1000, `video playout ${play.v - wall} ms from now`);
  assert.ok(Math.abs(play.a - play.v) < 300, `audio/video capture times ${play.a - play.v} ms apart`);

  // The SFU's own counters: SRs to the mentee, RRs to the mentor, an RTT
  // measured from the mentee's receiver reports.
  const sm = await until(async () => {
    const s = await mentee.evaluate(() => window.room.serverStats());
    return s.counters.rtt_us > 0 && s.counters.sr_out > 2 ? s : null;
  }, 20000, 'server RTT of the mentee');
  // The mentor receives nothing from us: its RTT comes from the DLRR its
  // browser sends back for the XR RRTR in our receiver reports (which go
  // out every 0.5-1.5 s: wait for a third, the first DLRR can come sooner).
  const sp = await until(async () => {
    const s = await mentor.evaluate(() => window.room.serverStats());
    return s.counters.rtt_us > 0 && s.counters.rr_out > 2 ? s : null;
  }, 20000, 'server RTT of the mentor (XR DLRR) and three receiver reports');
  console.log('server', JSON.stringify({ mentee: { rtt_us: sm.counters.rtt_us, sr_out: sm.counters.sr_out },
    mentor: { rr_out: sp.counters.rr_out, rtt_us: sp.counters.rtt_us } }));
  assert.ok(sp.counters.rtt_us < 1000000, `mentor RTT ${sp.counters.rtt_us} us`);
  assert.ok(sm.counters.rtt_us < 1000000, `RTT ${sm.counters.rtt_us} us`);
  assert.ok(sp.counters.rr_out > 2, 'no receiver reports to the mentor');
  await mentee.close();
  await mentor.close();
});
