// Keyframe throttle with real browsers: six mentees join at once. Every
// new subscription and every PLI/FIR a mentee's browser sends becomes a
// keyframe request, but the mentor's browser (outbound-rtp pliCount +
// firCount per simulcast encoding) must see at most one per ~500 ms per
// stream (sfu/keyframe.h), while all six decode the camera.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { launchBrowser } = require('./lib/browser');
const { openRoom, assertFlowing, sleep } = require('./lib/room');

let browser, d;
before(async () => {
  browser = await launchBrowser();
  d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1', room_max_participants: 10 } });
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
});

// {rid: pliCount + firCount} of the mentor's camera encodings.
const kfCounts = (page) => page.evaluate(async () => {
  const r = await window.roomPc.getStats();
  const out = {};
  r.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = (s.pliCount || 0) + (s.firCount || 0); });
  return out;
});

test('room: six mentees at once, keyframe requests to the mentor throttled', { timeout: 180000 }, async () => {
  const mentor = await openRoom(browser, d, { room: 'kf', role: 'mentor', name: 'M' });
  await sleep(2000);
  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ t: Date.now(), c: await kfCounts(mentor) });
      await sleep(200);
    }
  })();
  await sleep(500);
  const N = 6;
  const mentees = await Promise.all(Array.from({ length: N }, (_, i) =>
    openRoom(browser, d, { room: 'kf', role: 'mentee', name: `s${i}` }, 60000)));
  await Promise.all(mentees.map((p, i) => assertFlowing(p, (t) => t.kind === 'video', `mentee ${i} video`, { timeoutMs: 60000 })));
  await sleep(3000);
  sampling = false;
  await sampler;

  // Requests from viewers: one per subscription plus the mentees' PLI/FIR
  // (the SFU adds its own for layer switches and repeats).
  let viewerRequests = N;
  for (const p of mentees) {
    const s = await p.evaluate(() => window.room.serverStats());
    viewerRequests += s.counters.pli_in + s.counters.fir_in;
  }
  const first = samples[0], last = samples[samples.length - 1];
  const span = last.t - first.t;
  const report = {};
  for (const rid of Object.keys(last.c)) {
    const total = last.c[rid] - (first.c[rid] || 0);
    // Most requests within any 1 s (samples every ~200 ms).
    let worst = 0;
    for (let i = 0; i < samples.length; i++)
      for (let j = i + 1; j < samples.length && samples[j].t - samples[i].t <= 1000; j++)
        worst = Math.max(worst, (samples[j].c[rid] || 0) - (samples[i].c[rid] || 0));
    report[rid] = { total, worstPerSecond: worst };
    // 500 ms throttle: <= 2 per second (3 with a sample straddling a boundary).
    assert.ok(worst <= 3, `${rid}: ${worst} keyframe requests within one second`);
    assert.ok(total <= Math.ceil(span / 500) + 1, `${rid}: ${total} requests in ${span} ms`);
  }
  const delivered = Object.values(report).reduce((a, r) => a + r.total, 0);
  console.log('keyframe requests', JSON.stringify({ span, viewerRequests, delivered, report }));
  for (const p of [...mentees, mentor]) await p.close();
});
