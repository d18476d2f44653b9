// kill -9 of the daemon in the middle of a recording: the raw files end
// without an END record (maybe with a torn last record) and the row is
// still `recording`. The restarted daemon (same data folder, database and
// port) finds the row, salvages every complete record and processes the
// files into a playable MP4 (row ready).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { launchBrowser } = require('./lib/browser');
const { openRoom } = require('./lib/room');
const { startDaemon } = require('./lib/daemon');
const A = require('./lib/auth');
const R = require('./lib/recording');

const SECRET = 'recording-crash-test-secret-0123456789abcdef';
let browser, d, d2;

before(async () => {
  browser = await launchBrowser();
  d = await A.startAuthDaemon({ ice_interfaces: '127.0.0.1', room_token_secret: SECRET,
    recording_fsync_ms: 200 });
});
after(async () => {
  if (browser) await browser.close();
  if (d2) await d2.stop();
  if (d && d.redis) d.redis.stop();
  if (d && d.sink) await d.sink.stop();
});

test('kill -9 mid-recording, restart: the raw files are salvaged into a playable file', { timeout: 360000 }, async () => {
  const s = await R.makeSession(d);
  const room = String(s.sid);
  const mentee = await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentee), name: 'S' });
  await openRoom(browser, d, { room, token: await R.roomToken(d, s.sid, s.mentor), name: 'M' });
  await R.until(() => mentee.evaluate(() => window.roomState.recording), 30000, 'the recording-on notice');
  await R.sleep(10000);
  const row = await R.waitRecording(d, s.sid, ['recording'], 5000);
  d.proc.kill('SIGKILL');
  const ex = await d.exited;
  assert.strictEqual(ex.signal, 'SIGKILL');
  const files = fs.readdirSync(row.raw_dir).filter((f) => f.endsWith('.mlrec'));
  assert.ok(files.length >= 2, `raw files: ${files}`);
  const sizes = Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(row.raw_dir, f)).size]));

  // Same config (port, data folder, database, Redis): recovery at start-up.
  d2 = await startDaemon({ port: d.port, config: { ...d.config } });
  d2.sql = d.sql;
  const ready = await R.waitRecording(d2, s.sid, ['ready', 'failed'], 300000).catch(async (e) => {
    throw new Error(`${e.message}\nrows: ${JSON.stringify(await R.recordingRows(d2, s.sid))}\nlogs:\n${d2.logs().slice(-4000)}`);
  });
  assert.strictEqual(ready.status, 'ready', `failed: ${ready.failure_reason}\n${d2.logs().slice(-3000)}`);
  assert.match(d2.logs(), /interrupted .*salvaged/);
  for (const f of ready.track_files) {
    assert.strictEqual(f.clean_end, false, 'no END record after kill -9');
    assert.ok(f.records > 0);
    assert.strictEqual(fs.statSync(path.join(row.raw_dir, f.file)).size, sizes[f.file], 'raw file untouched');
  }
  const p = await R.probeSummary(path.join(d.config.data_dir, 'recordings', ready.storage_key));
  console.log('salvaged', JSON.stringify({ probe: p, tracks: ready.track_files }));
  assert.strictEqual(p.audio, 1);
  assert.strictEqual(p.video, 1);
  assert.ok(p.duration > 7 && p.duration < 13, `salvaged ${p.duration} s of ~10 s`);
});
