// mlload (tools/loadgen) against a real daemon in echo mode: a handful of
// simulated peers with real ICE/DTLS/SRTP send VP8 + Opus for a few
// seconds; everything comes back, the JSON report has its fields. And
// mlload against a closed port fails fast with a clear message.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startDaemon, freePort, runProgram, buildTool } = require('./lib/daemon');
const { tmpDir } = require('./lib/servers');

const MLLOAD = buildTool('tools/loadgen/mlload', 'MLLOAD_BIN');

const runMlload = (args, timeoutMs = 60000) => runProgram(MLLOAD, args, { timeoutMs });

test('loadgen: 4 echo peers for 6 s, no errors, < 1 % loss, JSON report', { timeout: 90000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  try {
    const r = await runMlload(['--server', d.wsUrl, '--scenario', 'echo', '--peers', '4',
      '--rate', '10', '--duration', '6', '--threads', '2', '--json', json]);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
    assert.match(r.stdout, /mlload echo: OK/);
    assert.match(r.stderr, /\[\s*\d+\.\ds\] peers/); // progress line
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    for (const k of ['scenario', 'ok', 'duration_s', 'peers', 'sent', 'received', 'loss', 'delay_ms',
      'video', 'rtcp', 'srtp', 'errors', 'error_messages']) {
      assert.ok(k in rep, `report lacks ${k}: ${JSON.stringify(rep)}`);
    }
    assert.strictEqual(rep.scenario, 'echo');
    assert.strictEqual(rep.ok, true);
    assert.strictEqual(rep.errors, 0, JSON.stringify(rep.error_messages));
    assert.strictEqual(rep.peers.connected, 4);
    assert.ok(rep.received.packets > 0, out);
    assert.ok(rep.received.video_packets > 0 && rep.received.audio_packets > 0, out);
    assert.ok(rep.loss.percent < 1, `loss ${rep.loss.percent} %: ${out}`);
    assert.ok(rep.delay_ms.samples > 0 && rep.delay_ms.p50 > 0 && rep.delay_ms.p99 >= rep.delay_ms.p50, out);
    // the same packets timed at the socket (kernel stamps): nearly every
    // sample has one, and a packet reaches the socket before mlload reads it
    const arr = rep.arrival_delay_ms;
    assert.ok(arr.samples >= 0.9 * rep.delay_ms.samples, out);
    assert.ok(arr.p50 > 0 && arr.p50 <= rep.delay_ms.p50 && arr.p99 <= rep.delay_ms.p99 + 0.05, out);
    assert.strictEqual(arr.hist_us.reduce((s, [, c]) => s + c, 0), arr.samples, out);
    assert.match(r.stdout, /at socket\s+p50 [0-9.]+ ms, p99/);
    assert.ok(rep.video.keyframes_360p > 0, out); // the layer sent came back, seen in keyframes
    assert.strictEqual(rep.srtp.decrypt_failed, 0, out);
    assert.ok(rep.rtcp.sr_rr > 0 && rep.rtcp.twcc > 0, out);
  } finally {
    await d.stop();
  }
});

test('loadgen: fanout, 1 mentor (simulcast) -> 3 mentees, highest layer arrives', { timeout: 90000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  try {
    const r = await runMlload(['--server', d.wsUrl, '--scenario', 'fanout', '--peers', '3',
      '--rate', '10', '--duration', '6', '--json', json]);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.strictEqual(rep.errors, 0, JSON.stringify(rep.error_messages));
    assert.strictEqual(rep.peers.connected, 4, out); // mentor + 3 mentees
    assert.ok(rep.received.video_packets > 0 && rep.received.audio_packets > 0, out);
    assert.ok(rep.loss.percent < 1, out);
    assert.ok(rep.video.keyframes_720p > 0, out); // automatic layer choice = highest
  } finally {
    await d.stop();
  }
});

// --gro: peers take the server's segmented sends whole (UDP_GRO), as a
// NIC with segmentation offload would leave them to the sender, and split
// them by the packet headers. Nothing may be lost or garbled by that:
// every packet decrypted (not just a sample), none missing on a loopback
// that loses nothing (so no NACK, no resend), every datagram that looked
// coalesced split, and no packet longer than the server ever sends.
const groChecks = (rep, out) => {
  assert.strictEqual(rep.gro, true);
  assert.strictEqual(rep.errors, 0, JSON.stringify(rep.error_messages));
  assert.ok(rep.received.coalesced > 0, out); // keyframes go out as segmented sends
  assert.strictEqual(rep.received.split_failed, 0, out);
  assert.strictEqual(rep.srtp.decrypt_failed, 0, out);
  assert.ok(rep.srtp.decrypted >= 0.9 * rep.received.packets, out);
  assert.strictEqual(rep.loss.lost, 0, out);
  assert.strictEqual(rep.rtcp.nack, 0, out);
  assert.strictEqual(rep.loss.rtx, 0, out);
  assert.strictEqual(rep.loss.duplicates, 0, out);
  assert.ok(rep.received.bytes / rep.received.packets < 1300, out);
  assert.strictEqual(rep.video.freezes, 0, out);
};

test('loadgen: fanout and meeting with --gro split segmented sends back into their packets', { timeout: 120000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  // one mlload run with --gro and every packet decrypted: its report, output
  const runGro = async (name, args) => {
    const json = path.join(dir, `${name}.json`);
    const r = await runMlload(['--server', d.wsUrl, ...args, '--duration', '8', '--gro',
      '--decrypt-every', '1', '--json', json]);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    groChecks(rep, out);
    return { r, rep, out };
  };
  try {
    const { r, rep, out } = await runGro('fanout', ['--scenario', 'fanout', '--peers', '3', '--rate', '10']);
    assert.strictEqual(rep.peers.connected, 4, out);
    assert.match(r.stdout, /--gro\s+\d+ datagrams carried several packets .*, 0 could not be split/);
    assert.ok(rep.video.keyframes_720p > 0, out);
    assert.ok(rep.video.frames > 3 * 20 * 5, out); // 3 mentees, ~30 frames/s after set-up
    // a meeting: one connection receives several publishers' streams
    const m = await runGro('meeting', ['--scenario', 'meeting', '--room', 'gromeet', '--peers', '3']);
    assert.strictEqual(m.rep.meeting.full, 3, m.out);
  } finally {
    await d.stop();
  }
});

test('loadgen: churn, echo peers leave and are replaced without errors', { timeout: 90000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  try {
    const r = await runMlload(['--server', d.wsUrl, '--scenario', 'churn', '--peers', '4',
      '--lifetime', '2', '--rate', '10', '--duration', '7', '--json', json]);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.strictEqual(rep.errors, 0, JSON.stringify(rep.error_messages));
    assert.ok(rep.peers.left >= 2, out);
    assert.strictEqual(rep.peers.connected, rep.peers.started_total, out);
    assert.ok(rep.loss.percent < 1, out);
  } finally {
    await d.stop();
  }
});

test('loadgen: closed port -> non-zero exit and a clear message', { timeout: 30000 }, async () => {
  const port = await freePort();
  const r = await runMlload(['--server', `ws://127.0.0.1:${port}/ws`, '--peers', '2', '--duration', '3']);
  assert.notStrictEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`cannot connect to ws://127\\.0\\.0\\.1:${port}/ws: Connection refused`));
});

test('loadgen: unknown host -> non-zero exit and a clear message', { timeout: 30000 }, async () => {
  const r = await runMlload(['--server', 'ws://no-such-host.invalid:1/ws', '--duration', '2']);
  assert.notStrictEqual(r.code, 0);
  assert.match(r.stderr, /cannot resolve server 'no-such-host\.invalid'/);
});

test('loadgen: server stops mid-run -> non-zero exit, clear message, partial report', { timeout: 90000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  // Kill the server once all three peers are connected and media flows: the
  // progress line says so (media encode alone takes seconds, more under ASan).
  let flowing;
  const seen = new Promise((r) => { flowing = r; });
  const run = runProgram(MLLOAD, ['--server', d.wsUrl, '--peers', '3', '--duration', '40', '--json', json], {
    timeoutMs: 60000,
    onStderr: (err) => { if (/ 3 connected .*\| rx [1-9][0-9]* pkt\/s/.test(err)) flowing(); },
  });
  const ok = await Promise.race([seen.then(() => true), run.then(() => false)]);
  if (!ok) {
    await d.stop({ signal: 'SIGKILL' });
    assert.fail('mlload ended before media flowed: ' + JSON.stringify(await run));
  }
  await d.stop({ signal: 'SIGKILL' });
  const r = await run;
  assert.strictEqual(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /signaling connection lost|server is shutting down/);
  const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.strictEqual(rep.ok, false);
  assert.strictEqual(rep.stop_reason, 'fatal error');
  assert.ok(rep.duration_s < 35, `stopped early: ${rep.duration_s}`);
  assert.ok(rep.received.packets > 0, 'measured what it could before the server went away');
});
