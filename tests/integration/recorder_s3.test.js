// Recording storage against a local S3 (s3rver behind a SigV4-verifying
// proxy, see lib/s3.js) through the `mlrec` tool the job runner calls:
// single and multipart uploads of a generated recording, byte-for-byte
// downloads through presigned URLs, expiry, retries on 503, and clear
// errors (local file kept) when S3 refuses or is down.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { startS3 } = require('./lib/s3');
const { mlrec } = require('./lib/mlrec');
const { tmpDir, sleep } = require('./lib/servers');

let s3, work, mp4, big;

function s3env(extra = {}) {
  return {
    MENTORLINK_S3_ENDPOINT: s3.endpoint,
    MENTORLINK_S3_BUCKET: s3.bucket,
    MENTORLINK_S3_ACCESS_KEY: s3.accessKey,
    MENTORLINK_S3_SECRET_KEY: s3.secretKey,
    MENTORLINK_S3_PATH_STYLE: 'true',
    MENTORLINK_S3_PART_BYTES: String(5 * 1024 * 1024),
    MENTORLINK_S3_MULTIPART_THRESHOLD_BYTES: String(5 * 1024 * 1024),
    ...extra,
  };
}

async function download(key, ttl) {
  const args = ['presign', key];
  if (ttl) args.push('--ttl', String(ttl));
  const p = await mlrec(args, { env: s3env() });
  assert.strictEqual(p.code, 0, p.stderr);
  const url = p.stdout.trim();
  assert.match(url, /X-Amz-Signature=[0-9a-f]{64}$/);
  return { url, res: await fetch(url) };
}

test.before(async () => {
  s3 = await startS3({ bucket: 'recordings' });
  work = tmpDir('ml-rec-s3-');
  const raw = path.join(work, 'raw');
  fs.mkdirSync(raw);
  let r = await mlrec(['synth', raw, '--duration', '2']);
  assert.strictEqual(r.code, 0, r.stderr);
  r = await mlrec(['process', raw, '--out', path.join(work, 'out'), '--no-thumbnail']);
  assert.strictEqual(r.code, 0, r.stderr);
  mp4 = JSON.parse(r.stdout).mp4;
  big = path.join(work, 'big.bin');
  fs.writeFileSync(big, crypto.randomBytes(12 * 1024 * 1024 + 12345));
});

test.after(async () => {
  if (s3) await s3.stop();
});

test('a small recording is uploaded with one PUT and downloads byte for byte', async () => {
  const r = await mlrec(['upload', mp4, 'sessions/s1/recording.mp4'], { env: s3env() });
  assert.strictEqual(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.strictEqual(info.parts, 0);
  assert.strictEqual(info.bytes, fs.statSync(mp4).size);
  assert.strictEqual(info.location, 's3://recordings/sessions/s1/recording.mp4');
  assert.ok((await s3.listKeys()).includes('sessions/s1/recording.mp4'));
  const { res } = await download('sessions/s1/recording.mp4');
  assert.strictEqual(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(mp4)));
  assert.strictEqual(s3.stats.mismatches, 0, s3.stats.reasons.join('; '));
});

test('a large file goes up in parts (multipart) and downloads byte for byte', async () => {
  const r = await mlrec(['upload', big, 'sessions/s1/big.bin'], { env: s3env() });
  assert.strictEqual(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.strictEqual(info.parts, 3);
  assert.strictEqual(info.requests, 5); // create + 3 parts + complete
  const { res } = await download('sessions/s1/big.bin');
  const got = Buffer.from(await res.arrayBuffer());
  assert.strictEqual(got.length, fs.statSync(big).size);
  assert.ok(got.equals(fs.readFileSync(big)));
  assert.strictEqual(crypto.createHash('md5').update(got).digest('hex'), info.md5);
  assert.strictEqual(s3.stats.mismatches, 0, s3.stats.reasons.join('; '));
  assert.ok(s3.stats.verified >= 7);
});

test('a presigned URL works before it expires and is refused after', async () => {
  const { url, res } = await download('sessions/s1/recording.mp4', 2);
  assert.strictEqual(res.status, 200);
  await res.arrayBuffer();
  await sleep(3200);
  const late = await fetch(url);
  assert.strictEqual(late.status, 403);
  assert.match(await late.text(), /Request has expired/);
});

test('503 answers are retried with back-off and the upload completes', async () => {
  s3.failNext(2);
  const r = await mlrec(['upload', mp4, 'sessions/s2/recording.mp4'], { env: s3env() });
  assert.strictEqual(r.code, 0, r.stderr);
  assert.strictEqual(JSON.parse(r.stdout).retries, 2);
  assert.ok((await s3.listKeys()).includes('sessions/s2/recording.mp4'));
});

test('an S3 that keeps failing gives a clear error after every attempt; the file is kept', async () => {
  s3.failNext(100);
  const r = await mlrec(['upload', mp4, 'sessions/s3/recording.mp4'], { env: s3env() });
  s3.failNext(0);
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /S3 answered 503 SlowDown/);
  assert.match(r.stderr, /attempt 4 of 4/);
  assert.match(r.stderr, /local file kept/);
  assert.ok(fs.existsSync(mp4));
});

test('a wrong access key is refused with S3\'s reason, not retried; the file is kept', async () => {
  const r = await mlrec(['upload', mp4, 'sessions/s4/recording.mp4'], { env: s3env({ MENTORLINK_S3_ACCESS_KEY: 'WRONGKEY' }) });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /S3 answered 403 InvalidAccessKeyId/);
  assert.match(r.stderr, /attempt 1 of 4/);
  assert.ok(fs.existsSync(mp4));
});

test('a wrong secret key fails the signature check', async () => {
  const r = await mlrec(['upload', mp4, 'sessions/s5/recording.mp4'], { env: s3env({ MENTORLINK_S3_SECRET_KEY: 'not-the-secret' }) });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /403 SignatureDoesNotMatch/);
  assert.ok(!(await s3.listKeys()).includes('sessions/s5/recording.mp4'));
});

test('an S3 that is down: connection errors are retried, then a clear error', async () => {
  const t0 = Date.now();
  const r = await mlrec(['upload', mp4, 'sessions/s6/recording.mp4'], { env: s3env({ MENTORLINK_S3_ENDPOINT: 'http://127.0.0.1:9' }) });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /Couldn't connect to server \(attempt 4 of 4\)/);
  assert.ok(Date.now() - t0 >= 1400, 'back-off 200 + 400 + 800 ms');
  assert.ok(fs.existsSync(mp4));
});

test('without an S3 endpoint recordings are stored on local disk', async () => {
  const dir = path.join(work, 'local-store');
  const r = await mlrec(['upload', mp4, 'sessions/s7/recording.mp4'], { env: { MENTORLINK_RECORDING_DIR: dir } });
  assert.strictEqual(r.code, 0, r.stderr);
  const dest = path.join(dir, 'sessions/s7/recording.mp4');
  assert.strictEqual(JSON.parse(r.stdout).location, dest);
  assert.ok(fs.readFileSync(dest).equals(fs.readFileSync(mp4)));
  const bad = await mlrec(['upload', mp4, '../escape.mp4'], { env: { MENTORLINK_RECORDING_DIR: dir } });
  assert.strictEqual(bad.code, 1);
  assert.match(bad.stderr, /invalid storage key/);
  const nops = await mlrec(['presign', 'sessions/s7/recording.mp4'], { env: { MENTORLINK_RECORDING_DIR: dir } });
  assert.strictEqual(nops.code, 1);
  assert.match(nops.stderr, /presigned URLs need S3 storage/);
});
