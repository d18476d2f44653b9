// A received burst is fanned out viewer by viewer (sfu/router_fwd.c): each
// viewer's packets of the burst sit together in the send queue and leave
// as one UDP GSO message (sfu/udp_batch.c). With a send queue of 4
// datagrams and 6 mentees of the 720p layer (frames of several packets),
// packet by packet (SFU_FANOUT_BURST=0) a flush holds one datagram per
// viewer and nothing can be segmented; viewer by viewer it can. Either
// way every mentee must get every packet, in order.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startDaemon, runProgram, buildTool } = require('./lib/daemon');
const { tmpDir } = require('./lib/servers');

const MLLOAD = buildTool('tools/loadgen/mlload', 'MLLOAD_BIN');

// The media workers' send counters, printed when they stop.
function sendCounters(logs) {
  const re = /media worker \d+: (\d+) datagrams queued, (\d+) sent, (\d+) dropped, (\d+) sendmmsg calls, (\d+) segmented messages/g;
  const sum = { queued: 0, sent: 0, dropped: 0, syscalls: 0, gso: 0, lines: 0 };
  for (const m of logs.matchAll(re)) {
    sum.queued += +m[1]; sum.sent += +m[2]; sum.dropped += +m[3]; sum.syscalls += +m[4]; sum.gso += +m[5];
    sum.lines++;
  }
  return sum;
}

async function run(burst) {
  const d = await startDaemon({
    config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' },
    env: { SFU_UDP_BATCH: '4', SFU_FANOUT_BURST: burst ? '1' : '0' },
  });
  const dir = tmpDir('ml-burst-');
  const json = path.join(dir, 'r.json');
  let out;
  try {
    const r = await runProgram(MLLOAD, ['--server', d.wsUrl, '--scenario', 'fanout', '--room', 'burst',
      '--rate', '20', '--pin', 'h', '--threads', '1', '--peers', '6', '--duration', '8', '--json', json],
    { timeoutMs: 90000 });
    out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
  } finally {
    await d.stop();
  }
  const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
  const sc = sendCounters(d.logs());
  console.log(burst ? 'viewer by viewer:' : 'packet by packet:', JSON.stringify({ send: sc,
    received: rep.received.video_packets, lost: rep.loss.lost, reordered: rep.loss.reordered,
    keyframes720: rep.video.keyframes_720p, pliIn: rep.rtcp.pli_in, pliOut: rep.rtcp.pli }));
  assert.ok(sc.lines > 0, 'no send counters in the log:\n' + d.logs().slice(-2000));
  assert.strictEqual(rep.peers.connected, 7, out);
  assert.ok(rep.video.keyframes_720p > 0, out); // the pinned layer arrived
  assert.ok(rep.received.video_packets > 1000, out);
  assert.ok(rep.loss.percent < 1, out);
  assert.strictEqual(rep.loss.reordered, 0, out); // a viewer's packets keep their order
  assert.strictEqual(sc.dropped, 0);
  return { ...sc, pliIn: rep.rtcp.pli_in, keyframes: rep.video.keyframes };
}

test('fan-out of a burst viewer by viewer: one segmented message per viewer, nothing lost or reordered', { timeout: 240000 }, async () => {
  const on = await run(true);
  const off = await run(false);
  assert.ok(on.gso > 100, 'viewer by viewer: few segmented messages ' + JSON.stringify(on));
  // packet by packet the queue of 4 rarely holds two datagrams of a viewer
  assert.ok(off.gso * 10 < on.gso, JSON.stringify({ on, off }));
  // ... so it takes more system calls for about as many datagrams
  assert.ok(off.syscalls > on.syscalls, JSON.stringify({ on, off }));
  // Keyframe requests (pliIn) are logged, not asserted: a viewer waiting
  // for a keyframe that comes later in the same burst must ask for none
  // (seen before that was fixed: 2 vs 1 requests, 18 vs 12 keyframes), but
  // how the six joins fall around the first keyframe also moves the count
  // (seen in CI: 3 vs 1 once, and 3 vs 3 in another run).
});
