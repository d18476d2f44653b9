// Recording end to end with real browsers, local storage: a mentor in a
// session whose type is recorded publishes (simulcast VP8 + Opus from
// Chromium's fake devices); the SFU taps the decrypted packets into the
// recorder; the mentee's page is told recording is on; after ~20 s the
// mentor ends the session (POST /sessions/{id}/end), the page is told it
// is off, the job post-processes and stores the recording, and the row
// becomes ready. ffprobe checks the MP4 (one audio and one video stream,
// duration, A/V start); the REST API gives the mentor and the attendee a
// signed, expiring link and an outsider nothing; access is audited. A
// recording also stops when the room empties, and a participant who joins
// while it runs learns it from the join reply. A session type that is not
// recorded records nothing.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { launchBrowser } = require('./lib/browser');
const { openRoom, assertFlowing } = require('./lib/room');
const A = require('./lib/auth');
const R = require('./lib/recording');

const SECRET = 'recording-live-test-secret-0123456789abcdef';
const LINK_TTL_S = 8;
let browser, d;

before(async () => {
  browser = await launchBrowser();
  d = await A.startAuthDaemon({ ice_interfaces: '127.0.0.1', room_token_secret: SECRET,
    s3_presign_ttl_s: LINK_TTL_S });
});
after(async () => {
  if (browser) await browser.close();
  if (d) await d.stop();
});

test('recorded session: notices, ~20 s recording ready, probe, signed links, access', { timeout: 360000 }, async () => {
  const s = await R.makeSession(d);
  const room = String(s.sid);
  const mentee = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentee), name: 'S' });
  const mentor = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentor), name: 'M' });
  await R.until(() => mentee.evaluate(() => window.roomState.recording), 30000, 'the recording-on notice');
  const row = await R.waitRecording(d, s.sid, ['recording'], 10000);
  assert.ok(fs.existsSync(row.raw_dir), 'raw folder exists');
  // Live viewing goes on while recording.
  await assertFlowing(mentee, (t) => t.kind === 'video', 'mentee video while recording');
  await assertFlowing(mentee, (t) => t.kind === 'audio', 'mentee audio while recording');
  const on = (await mentee.evaluate(() => window.roomState.recordingNotices))[0];
  await R.sleep(Math.max(0, 20000 - (Date.now() - on.at)));
  const m = await mentor.evaluate(() => window.roomState.recording);
  assert.strictEqual(m, true, 'the mentor is told too');

  const end = await A.api(d, 'POST', `/api/v1/sessions/${s.sid}/end`, { token: s.mentor.access });
  assert.strictEqual(end.status, 200, JSON.stringify(end.body));
  await R.until(() => mentee.evaluate(() => !window.roomState.recording), 15000, 'the recording-off notice');
  const notices = await mentee.evaluate(() => window.roomState.recordingNotices);
  assert.deepStrictEqual(notices.map((n) => n.state), ['on', 'off']);
  const realS = (notices[1].at - notices[0].at) / 1000;

  const ready = await R.waitRecording(d, s.sid, ['ready', 'failed']);
  assert.strictEqual(ready.status, 'ready', `failed: ${ready.failure_reason}\n${d.logs().slice(-3000)}`);
  assert.strictEqual(ready.storage_kind, 'local');
  assert.ok(ready.track_files.length >= 2, JSON.stringify(ready.track_files));
  for (const f of ready.track_files) {
    assert.strictEqual(f.clean_end, true, JSON.stringify(f));
    assert.strictEqual(f.drops, 0, JSON.stringify(f));
  }
  const file = path.join(d.config.data_dir, 'recordings', ready.storage_key);
  const p = await R.probeSummary(file);
  console.log('recording', JSON.stringify({ realS, probe: p, duration_ms: ready.duration_ms,
    raw_bytes: ready.raw_bytes, output_bytes: ready.output_bytes, tracks: ready.track_files }));
  assert.strictEqual(p.audio, 1);
  assert.strictEqual(p.video, 1);
  assert.strictEqual(p.videoCodec, 'h264');
  assert.strictEqual(p.audioCodec, 'aac');
  assert.ok(Math.abs(p.duration - realS) <= 0.5, `duration ${p.duration} s vs real ${realS} s`);
  assert.ok(p.startDiff <= 0.1, `audio/video start ${p.startDiff} s apart`);
  assert.ok(p.height >= 360, `top simulcast layer recorded (height ${p.height})`);
  // Raw files are kept.
  for (const f of ready.track_files) assert.ok(fs.existsSync(path.join(ready.raw_dir, f.file)));

  // REST: the mentor lists, the attendee gets a link that works until it expires.
  const list = await A.api(d, 'GET', `/api/v1/sessions/${s.sid}/recordings`, { token: s.mentor.access });
  assert.strictEqual(list.status, 200, JSON.stringify(list.body));
  assert.strictEqual(list.body.items.length, 1);
  assert.strictEqual(list.body.items[0].status, 'ready');
  const one = await A.api(d, 'GET', `/api/v1/recordings/${ready.public_id}`, { token: s.mentee.access });
  assert.strictEqual(one.status, 200, JSON.stringify(one.body));
  assert.ok(one.body.playback && one.body.playback.url, JSON.stringify(one.body));
  const got = Buffer.from(await (await fetch(one.body.playback.url)).arrayBuffer());
  assert.ok(got.equals(fs.readFileSync(file)), 'the link serves the stored MP4 byte for byte');
  const thumb = await fetch(one.body.thumbnail.url);
  assert.strictEqual(thumb.status, 200);
  assert.strictEqual(thumb.headers.get('content-type'), 'image/jpeg');
  const forged = one.body.playback.url.replace(/sig=([0-9a-f])/, (x, c) => `sig=${c === '0' ? '1' : '0'}`);
  assert.strictEqual((await fetch(forged)).status, 403);
  await R.sleep((LINK_TTL_S + 2) * 1000);
  assert.strictEqual((await fetch(one.body.playback.url)).status, 403, 'the link expired');

  // An outsider sees nothing.
  for (const url of [`/api/v1/sessions/${s.sid}/recordings`, `/api/v1/recordings/${ready.public_id}`]) {
    const r = await A.api(d, 'GET', url, { token: s.outsider.access });
    assert.ok(r.status === 404 || r.status === 403, `${url}: ${r.status}`);
  }
  const audits = await d.sql(`SELECT count(*) FROM audit_log WHERE action = 'recording.viewed' AND target_id = '${ready.public_id}'`);
  assert.strictEqual(audits, '1');
  await mentor.close();
  await mentee.close();
});

test('a session type that is not recorded records nothing', { timeout: 120000 }, async () => {
  const s = await R.makeSession(d, { recorded: false });
  const room = String(s.sid);
  const mentee = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentee), name: 'S' });
  const mentor = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentor), name: 'M' });
  await assertFlowing(mentee, (t) => t.kind === 'video', 'mentee video');
  await R.sleep(2000);
  assert.strictEqual(await mentee.evaluate(() => window.roomState.recording), false);
  assert.deepStrictEqual(await R.recordingRows(d, s.sid), []);
  await mentor.close();
  await mentee.close();
});

test('the room empties: the recording stops and is processed; a late joiner is told it is on; a screen shared for a while is muxed', { timeout: 240000 }, async () => {
  const s = await R.makeSession(d);
  const room = String(s.sid);
  const mentor = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentor), name: 'M' });
  await R.until(() => mentor.evaluate(() => window.roomState.recording), 30000, 'the recording-on notice (mentor)');
  const mentee = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentee), name: 'S' });
  const notices = await mentee.evaluate(() => window.roomState.recordingNotices);
  assert.strictEqual(notices[0].state, 'on');
  assert.strictEqual(notices[0].joined, true, 'told by the join reply');
  // The mentor shares a screen (a 1280x720 canvas on a new m-line) for
  // ~2.5 s, then stops: the mentee gets the track, then loses it.
  const videos = () => mentee.evaluate(() => window.room.tracks().filter((t) => t.kind === 'video').length);
  await R.sleep(1000);
  const tShare = Date.now();
  assert.strictEqual(await mentor.evaluate(() => window.room.shareCanvas()), true);
  await R.until(async () => (await videos()) === 2, 15000, 'the mentee gets the screen track');
  await R.sleep(2500);
  assert.strictEqual(await mentor.evaluate(() => window.room.stopScreen()), true);
  await R.until(async () => (await videos()) === 1, 15000, 'the screen track is removed');
  const sharedS = (Date.now() - tShare) / 1000;
  await R.sleep(1500);
  await mentee.close();
  await mentor.close();
  const ready = await R.waitRecording(d, s.sid, ['ready', 'failed']);
  assert.strictEqual(ready.status, 'ready', `failed: ${ready.failure_reason}`);
  assert.ok(ready.duration_ms > 4000 && ready.duration_ms < 15000, `duration ${ready.duration_ms} ms`);
  const vfiles = ready.track_files.filter((f) => f.kind === 'video');
  assert.strictEqual(vfiles.length, 2, JSON.stringify(ready.track_files));
  // The WebM keeps the screen as a second video stream; the MP4 has one
  // picture (the screen with the camera in a corner while it is shared).
  const webm = await R.ffprobe(path.join(ready.raw_dir, 'out', 'recording.webm'));
  const wv = webm.streams.filter((x) => x.codec_type === 'video');
  assert.strictEqual(wv.length, 2, JSON.stringify(webm.streams));
  assert.strictEqual((wv[1].tags || {}).title, 'screen', JSON.stringify(wv[1]));
  // it starts after the camera: shared a second or more into the recording
  const screenStart = Number(wv[1].start_time) - Number(wv[0].start_time);
  console.log('screen share', JSON.stringify({ screenStart, sharedS, duration_ms: ready.duration_ms }));
  assert.ok(screenStart > 0.5 && screenStart < ready.duration_ms / 1000 - 1, `screen from ${screenStart} s`);
  const p = await R.probeSummary(path.join(d.config.data_dir, 'recordings', ready.storage_key));
  assert.strictEqual(p.video, 1);
  assert.strictEqual(p.audio, 1);
  assert.ok(p.width >= 1280 && p.height >= 720, `MP4 ${p.width}x${p.height}`);
  assert.match(d.logs(), /screen shared in 1 connection/);
  const sess = await d.sql(`SELECT status FROM sessions WHERE id = ${s.sid}`);
  assert.strictEqual(sess, 'live', 'the session itself goes on');
});
