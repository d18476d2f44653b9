// The `mlrec` recording tool end to end: a synthetic session (VP8 + Opus
// RTP with reordering, a duplicate and a loss) is scanned with `info` and
// processed into WebM + MP4 + thumbnail with a JSON report; a damaged or
// truncated raw file is salvaged; a file with a broken header and a
// failing ffmpeg give exit status 1 with the reason, and raw files stay.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { mlrec } = require('./lib/mlrec');
const { tmpDir } = require('./lib/servers');

test('synth, info and process give a consistent report', async () => {
  const dir = tmpDir('ml-mlrec-');
  let r = await mlrec(['synth', dir, '--impair', '--duration', '3']);
  assert.strictEqual(r.code, 0, r.stderr);
  const synth = JSON.parse(r.stdout);
  r = await mlrec(['info', path.join(dir, 'video.mlrec')]);
  assert.strictEqual(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.strictEqual(info.kind, 'video');
  assert.strictEqual(info.codec, 'VP8');
  assert.strictEqual(info.rtp, synth.video_packets);
  assert.strictEqual(info.clean_end, true);
  assert.strictEqual(info.bad_records, 0);
  r = await mlrec(['process', dir, '--out', path.join(dir, 'out')]);
  assert.strictEqual(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.ok(Math.abs(rep.duration_s - 3) < 0.5, `duration ${rep.duration_s}`);
  assert.ok(rep.av_start_diff_s < 0.1);
  assert.strictEqual(rep.video.duplicates, 1);
  assert.strictEqual(rep.video.lost, 1);
  assert.strictEqual(rep.audio.lost, 1);
  assert.strictEqual(rep.video.sr_aligned, true);
  for (const f of [rep.webm, rep.mp4, rep.thumbnail]) assert.ok(fs.statSync(f).size > 1000, f);
});

test('a truncated raw file is salvaged; a broken header or failing ffmpeg is an error and raw files stay', async () => {
  const dir = tmpDir('ml-mlrec-bad-');
  assert.strictEqual((await mlrec(['synth', dir, '--duration', '2'])).code, 0);
  const video = path.join(dir, 'video.mlrec');
  const size = fs.statSync(video).size;
  fs.truncateSync(video, size - 37);
  let r = await mlrec(['info', video]);
  assert.strictEqual(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.strictEqual(info.torn_tail, true);
  assert.strictEqual(info.clean_end, false);
  r = await mlrec(['process', dir, '--out', path.join(dir, 'out'), '--no-thumbnail']);
  assert.strictEqual(r.code, 0, r.stderr);
  assert.strictEqual(JSON.parse(r.stdout).video.torn_tail, true);

  r = await mlrec(['process', dir, '--out', path.join(dir, 'out2'), '--ffmpeg', '/bin/false']);
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /MP4 transcode failed: \/bin\/false exited with status 1/);
  assert.match(r.stderr, /raw files kept/);

  const fd = fs.openSync(video, 'r+');
  fs.writeSync(fd, Buffer.from('BROKEN'), 0, 6, 0);
  fs.closeSync(fd);
  r = await mlrec(['process', dir, '--out', path.join(dir, 'out3')]);
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /video\.mlrec: not a raw recording file \(bad magic\)/);
  assert.ok(fs.existsSync(video) && fs.existsSync(path.join(dir, 'audio.mlrec')));
  r = await mlrec(['info', video]);
  assert.strictEqual(r.code, 1);
});
