// mlload (tools/loadgen) split over two processes, as tools/bench/sfu runs
// it: process A runs the mentor and 2 mentees, process B (--mentees-only,
// same room) 3 more mentees. B's mentees must get the mentor's media and
// measure one-way delay although the sender is another process (the send
// time is on the machine's monotonic clock), and both reports carry the
// load-side verdict and the delay histogram the bench merges.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startDaemon, runProgram, buildTool } = require('./lib/daemon');
const { tmpDir } = require('./lib/servers');

const MLLOAD = buildTool('tools/loadgen/mlload', 'MLLOAD_BIN');

const runMlload = (args, timeoutMs = 60000) => runProgram(MLLOAD, args, { timeoutMs });

test('loadgen: fan-out over two processes (mentor + mentees, mentees only)', { timeout: 120000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const ja = path.join(dir, 'a.json'), jb = path.join(dir, 'b.json');
  try {
    const common = ['--server', d.wsUrl, '--scenario', 'fanout', '--room', 'split', '--rate', '10',
      '--pin', 'l', '--threads', '1'];
    // B starts once A's mentor and mentees are connected and media flows (A's
    // encode takes seconds, more under ASan), and ends earlier: the mentor's
    // track must outlive its mentees
    let flowing;
    const seen = new Promise((r) => { flowing = r; });
    const ready = path.join(dir, 'a.ready');
    const a = runProgram(MLLOAD, [...common, '--peers', '2', '--duration', '14', '--json', ja,
      '--ready-file', ready], {
      timeoutMs: 90000,
      onStderr: (err) => { if (/ 3 connected .*\| rx [1-9][0-9]* pkt\/s/.test(err)) flowing(); },
    });
    if (!await Promise.race([seen.then(() => true), a.then(() => false)]))
      assert.fail('A ended before its media flowed: ' + JSON.stringify(await a));
    assert.ok(fs.existsSync(ready), 'A made its ready file once its mentor was up');
    const b = await runMlload([...common, '--peers', '3', '--mentees-only', '--index-base', '1000',
      '--duration', '6', '--json', jb], 90000);
    const ra = await a;
    const outA = ra.stdout + ra.stderr, outB = b.stdout + b.stderr;
    assert.strictEqual(b.code, 0, outB);
    assert.strictEqual(ra.code, 0, outA);
    const repA = JSON.parse(fs.readFileSync(ja, 'utf8'));
    const repB = JSON.parse(fs.readFileSync(jb, 'utf8'));
    assert.strictEqual(repA.peers.connected, 3, outA); // mentor + 2
    assert.strictEqual(repB.peers.connected, 3, outB); // 3 mentees, no mentor
    assert.strictEqual(repB.sent.packets, 0, outB); // B publishes nothing
    assert.doesNotMatch(b.stderr, /mlload: encoded/); // so it encodes nothing either
    assert.match(ra.stderr, /mlload: encoded 3 s of media/);
    assert.ok(repB.received.video_packets > 0 && repB.received.audio_packets > 0, outB);
    assert.ok(repB.video.keyframes_180p > 0, outB); // the pinned layer of A's mentor
    assert.ok(repB.loss.percent < 1, outB);
    // delay measured across processes: plausible values, not garbage
    assert.ok(repB.delay_ms.samples > 0, outB);
    assert.ok(repB.delay_ms.p50 > 0 && repB.delay_ms.p50 < 1000, outB);
    const n = repB.delay_ms.hist_us.reduce((s, [, c]) => s + c, 0);
    assert.strictEqual(n, repB.delay_ms.samples, outB);
    for (const r of [repA, repB]) {
      assert.strictEqual(typeof r.load.saturated, 'boolean');
      assert.ok(r.load.cpus >= 1 && typeof r.load.why === 'string', JSON.stringify(r.load));
    }
    assert.match(b.stdout, /load side\s+(saturated: no|SATURATED)/);
  } finally {
    await d.stop();
  }
});
