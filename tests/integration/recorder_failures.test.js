// Bad input to the daemon's recording.process job: raw folders made with
// `mlrec synth` (exactly as the live writer writes them) are queued the
// way the recording manager queues them (row processing + a job). A
// folder whose raw file is corrupt, and a folder processed with an ffmpeg
// that fails (recording_ffmpeg points at a failing script), end `failed`
// with the reason; the raw files stay byte for byte. An S3 that refuses
// the uploads (wrong secret: 403 SignatureDoesNotMatch) makes the job
// retry, then fail the row with S3's reason. (The path that succeeds is
// recorder_live*.test.js.)
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { mlrec } = require('./lib/mlrec');
const { tmpDir } = require('./lib/servers');
const { startS3 } = require('./lib/s3');
const A = require('./lib/auth');
const R = require('./lib/recording');

let d;
const work = tmpDir('ml-rec-fail-');
const badFfmpeg = path.join(work, 'failing-ffmpeg');

before(async () => {
  fs.writeFileSync(badFfmpeg, '#!/bin/sh\necho "simulated encoder crash: no space left for frame 17" >&2\nexit 3\n', { mode: 0o755 });
  d = await A.startAuthDaemon({ recording_ffmpeg: badFfmpeg, job_max_attempts: 2, job_retry_base_ms: 100 });
});
after(async () => { if (d) await d.stop(); });

const digest = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

async function queue(dir, session, dd = d) {
  const sql = (q) => dd.sql(q);
  const id = await sql(`INSERT INTO recordings (room_id, session_ref, raw_dir) VALUES ('${session}', '${session}', '${dir}') RETURNING id`);
  await sql(`UPDATE recordings SET status = 'processing', ended_at = now() WHERE id = ${id}`);
  await sql(`INSERT INTO jobs (kind, payload, dedupe_key) VALUES ('recording.process', '{"recording_id": ${id}}', 'recording:${id}')`);
  return R.until(async () => {
    const r = JSON.parse(await sql(`SELECT row_to_json(r) FROM recordings r WHERE id = ${id}`));
    return r.status === 'ready' || r.status === 'failed' ? r : null;
  }, 120000, `recording ${id} to finish`);
}

async function synth(name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const r = await mlrec(['synth', dir, '--duration', '2']);
  assert.strictEqual(r.code, 0, r.stderr);
  return dir;
}

test('a corrupt raw file: failed with the reason, raw files kept', { timeout: 180000 }, async () => {
  const dir = await synth('corrupt');
  for (const f of ['video.mlrec', 'audio.mlrec']) {
    const p = path.join(dir, f);
    const b = fs.readFileSync(p);
    b[20] ^= 0xff; // inside the header: its CRC no longer matches
    fs.writeFileSync(p, b);
  }
  const before = ['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f)));
  const r = await queue(dir, '9001');
  assert.strictEqual(r.status, 'failed');
  assert.match(r.failure_reason, /processing: .*(header CRC|no usable)/, r.failure_reason);
  assert.deepStrictEqual(['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f))), before);
});

test('ffmpeg failing: failed with its exit status and stderr, raw files kept', { timeout: 180000 }, async () => {
  const dir = await synth('ffmpeg');
  const before = ['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f)));
  const r = await queue(dir, '9002');
  assert.strictEqual(r.status, 'failed');
  assert.match(r.failure_reason, /exited with status 3/, r.failure_reason);
  assert.match(r.failure_reason, /no space left for frame 17/, r.failure_reason);
  assert.deepStrictEqual(['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f))), before);
  assert.ok(fs.existsSync(path.join(dir, 'out', 'recording.webm')), 'the WebM made before ffmpeg ran is kept');
});

test('a missing raw folder fails with a reason', { timeout: 180000 }, async () => {
  const r = await queue(path.join(work, 'nope'), '9003');
  assert.strictEqual(r.status, 'failed');
  assert.match(r.failure_reason, /processing: /);
});

test('S3 refusing the upload: retried, then failed with S3\'s reason; raw files kept', { timeout: 240000 }, async () => {
  const s3 = await startS3({ bucket: 'recordings' });
  const d2 = await A.startAuthDaemon({ s3_endpoint: s3.endpoint, s3_bucket: s3.bucket,
    s3_access_key: s3.accessKey, s3_secret_key: 'not-the-secret', s3_path_style: true,
    s3_max_attempts: 1, job_max_attempts: 2, job_retry_base_ms: 100 });
  try {
    const dir = await synth('s3refused');
    const before = ['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f)));
    const r = await queue(dir, '9004', d2);
    assert.strictEqual(r.status, 'failed');
    assert.match(r.failure_reason, /storage: .*(SignatureDoesNotMatch|403)/, r.failure_reason);
    assert.strictEqual(r.attempts, 1, 'one processing attempt of the row');
    const job = await d2.sql(`SELECT attempts || ' ' || state FROM jobs WHERE kind = 'recording.process'`);
    assert.strictEqual(job, '2 failed', 'the job was retried once');
    assert.deepStrictEqual(['video.mlrec', 'audio.mlrec'].map((f) => digest(path.join(dir, f))), before);
    assert.deepStrictEqual(await s3.listKeys(), []);
  } finally {
    await d2.stop();
    await s3.stop();
  }
});
