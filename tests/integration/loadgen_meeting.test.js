// mlload (tools/loadgen) meeting scenario against a real daemon: M
// participants each publish VP8 + Opus and subscribe to every other one
// (renegotiating as the others' tracks appear); every participant must get
// audio and complete video frames from every other one, identified by the
// sender index each packet carries. Plus the load tool's bad-input cases
// not covered by loadgen_echo.test.js: a refused join, an unknown scenario
// or API, and a meeting too large for the protocol.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startDaemon, runProgram, buildTool } = require('./lib/daemon');
const { tmpDir } = require('./lib/servers');

const MLLOAD = buildTool('tools/loadgen/mlload', 'MLLOAD_BIN');

const runMlload = (args, timeoutMs = 60000) => runProgram(MLLOAD, args, { timeoutMs });

test('loadgen: meeting of 3, every participant gets every other one\'s audio and video', { timeout: 120000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  try {
    const r = await runMlload(['--server', d.wsUrl, '--scenario', 'meeting', '--peers', '3',
      '--rate', '10', '--duration', '8', '--layer', '0', '--json', json], 90000);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 0, out);
    assert.match(r.stdout, /mlload meeting: OK/);
    assert.match(r.stdout, /3 participants: 3 got media from all 2 others/);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.strictEqual(rep.errors, 0, JSON.stringify(rep.error_messages));
    assert.strictEqual(rep.peers.connected, 3, out);
    assert.deepStrictEqual(
      { full: rep.meeting.full, audio: rep.meeting.pairs_audio, video: rep.meeting.pairs_video },
      { full: 3, audio: 6, video: 6 }, out);
    assert.ok(rep.loss.percent < 1, out);
    assert.ok(rep.video.keyframes_180p > 0, out); // the layer sent arrived
    assert.strictEqual(rep.srtp.decrypt_failed, 0, out);
    assert.ok(rep.delay_ms.samples > 0 && Array.isArray(rep.delay_ms.hist_us), out);
    assert.strictEqual(typeof rep.load.saturated, 'boolean', out);
  } finally {
    await d.stop();
  }
});

test('loadgen: refused join (room tokens required) -> non-zero exit, clear message, early stop', { timeout: 90000 }, async () => {
  const d = await startDaemon({ config: { room_join_tokens: true, ice_interfaces: '127.0.0.1' } });
  const dir = tmpDir('ml-loadgen-');
  const json = path.join(dir, 'report.json');
  try {
    const r = await runMlload(['--server', d.wsUrl, '--scenario', 'fanout', '--peers', '2',
      '--rate', '10', '--duration', '30', '--json', json]);
    const out = r.stdout + r.stderr;
    assert.strictEqual(r.code, 1, out);
    assert.match(r.stdout, /server error unauthorized/, out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.strictEqual(rep.ok, false);
    assert.strictEqual(rep.stop_reason, 'every peer failed', out);
    assert.ok(rep.duration_s < 20, `stopped early: ${rep.duration_s}`);
    assert.strictEqual(rep.peers.connected, 0, out);
  } finally {
    await d.stop();
  }
});

test('loadgen: unknown scenario, unknown API, too large a meeting -> exit 2 with a message', { timeout: 30000 }, async () => {
  let r = await runMlload(['--server', 'ws://127.0.0.1:1/ws', '--scenario', 'lecture']);
  assert.strictEqual(r.code, 2);
  assert.match(r.stderr, /unknown scenario 'lecture'/);
  r = await runMlload(['--server', 'ws://127.0.0.1:1/ws', '--api', 'mediasoup']);
  assert.strictEqual(r.code, 2);
  assert.match(r.stderr, /--api must be mentorlink or janus/);
  r = await runMlload(['--server', 'ws://127.0.0.1:1/ws', '--scenario', 'meeting', '--peers', '9']);
  assert.strictEqual(r.code, 2);
  assert.match(r.stderr, /meeting: --peers must be 2\.\.8/);
});
