// Recording end to end with S3 storage (s3rver behind the SigV4-checking
// proxy of lib/s3.js): a browser mentor in a recorded session publishes,
// the session ends, the job uploads the MP4 and the thumbnail; the object
// is listed and downloads byte for byte through the presigned URL of GET
// /api/v1/recordings/{id}, which works before it expires and not after; a
// user who is not an attendee gets nothing.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { launchBrowser } = require('./lib/browser');
const { openRoom } = require('./lib/room');
const { startS3 } = require('./lib/s3');
const A = require('./lib/auth');
const R = require('./lib/recording');

const SECRET = 'recording-s3-test-secret-0123456789abcdef';
const TTL_S = 6;
let browser, d, s3;

before(async () => {
  s3 = await startS3({ bucket: 'recordings' });
  browser = await launchBrowser();
  d = await A.startAuthDaemon({ ice_interfaces: '127.0.0.1', room_token_secret: SECRET,
    s3_endpoint: s3.endpoint, s3_bucket: s3.bucket, s3_access_key: s3.accessKey,
    s3_secret_key: s3.secretKey, s3_path_style: true, s3_presign_ttl_s: TTL_S });
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
  if (s3) await s3.stop();
});

test('recorded session stored on S3: listed, byte for byte, presigned link expires, access', { timeout: 360000 }, async () => {
  const s = await R.makeSession(d);
  const room = String(s.sid);
  const mentee = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentee), name: 'S' });
  const mentor = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentor), name: 'M' });
  await R.until(() => mentee.evaluate(() => window.roomState.recording), 30000, 'the recording-on notice');
  const on = (await mentee.evaluate(() => window.roomState.recordingNotices))[0];
  await R.sleep(Math.max(0, 20000 - (Date.now() - on.at)));
  const end = await A.api(d, 'POST', `/api/v1/sessions/${s.sid}/end`, { token: s.mentor.access });
  assert.strictEqual(end.status, 200, JSON.stringify(end.body));
  await R.until(() => mentee.evaluate(() => !window.roomState.recording), 15000, 'the recording-off notice');
  const notices = await mentee.evaluate(() => window.roomState.recordingNotices);
  const realS = (notices[1].at - notices[0].at) / 1000;

  const ready = await R.waitRecording(d, s.sid, ['ready', 'failed']);
  assert.strictEqual(ready.status, 'ready', `failed: ${ready.failure_reason}\n${d.logs().slice(-3000)}`);
  assert.strictEqual(ready.storage_kind, 's3');
  const keys = await s3.listKeys();
  assert.ok(keys.includes(ready.storage_key), `${ready.storage_key} in ${keys}`);
  assert.ok(keys.includes(ready.thumbnail_key), `${ready.thumbnail_key} in ${keys}`);
  assert.strictEqual(s3.stats.mismatches, 0, JSON.stringify(s3.stats));
  const local = fs.readFileSync(path.join(ready.raw_dir, 'out', 'recording.mp4'));
  const p = await R.probeSummary(path.join(ready.raw_dir, 'out', 'recording.mp4'));
  console.log('recording (s3)', JSON.stringify({ realS, probe: p, key: ready.storage_key, bytes: local.length, s3: s3.stats }));
  assert.strictEqual(p.audio, 1);
  assert.strictEqual(p.video, 1);
  assert.ok(Math.abs(p.duration - realS) <= 0.5, `duration ${p.duration} s vs real ${realS} s`);
  assert.ok(p.startDiff <= 0.1, `audio/video start ${p.startDiff} s apart`);

  const one = await A.api(d, 'GET', `/api/v1/recordings/${ready.public_id}`, { token: s.mentee.access });
  assert.strictEqual(one.status, 200, JSON.stringify(one.body));
  const url = one.body.playback.url;
  assert.match(url, /X-Amz-Signature=/);
  assert.match(url, new RegExp(`X-Amz-Expires=${TTL_S}\\b`));
  const r = await fetch(url);
  assert.strictEqual(r.status, 200);
  const got = Buffer.from(await r.arrayBuffer());
  assert.ok(got.equals(local), `downloaded ${got.length} bytes, stored ${local.length}`);
  assert.strictEqual(Number(ready.output_bytes), local.length);
  await R.sleep((TTL_S + 2) * 1000);
  const late = await fetch(url);
  assert.strictEqual(late.status, 403, 'the presigned URL expired');

  for (const u of [`/api/v1/sessions/${s.sid}/recordings`, `/api/v1/recordings/${ready.public_id}`]) {
    const x = await A.api(d, 'GET', u, { token: s.outsider.access });
    assert.ok(x.status === 404 || x.status === 403, `${u}: ${x.status}`);
    assert.ok(!JSON.stringify(x.body).includes('X-Amz'), 'no link for an outsider');
  }
  await mentor.close();
  await mentee.close();
});
