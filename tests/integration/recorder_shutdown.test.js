// SIGTERM while a recording.process job runs ffmpeg: recording_ffmpeg is a
// wrapper script that notes its start, sleeps (a slow encoder, in a child
// process of the script) and then execs the real ffmpeg. The daemon must
// kill the whole process group and exit within a few seconds (not wait
// minutes and get SIGKILLed), leave the row `processing` and its job queued
// without spending an attempt; the next start (with the plain ffmpeg) makes
// the recording `ready` with a playable MP4.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const net = require('net');
const { mlrec } = require('./lib/mlrec');
const { tmpDir, waitFor } = require('./lib/servers');
const { startDaemon, SANITIZED } = require('./lib/daemon');
const A = require('./lib/auth');
const R = require('./lib/recording');

const SLEEP_S = 177; // unique enough to find the script's child in /proc
const work = tmpDir('ml-rec-stop-');
const started = path.join(work, 'ffmpeg-started');
const slowFfmpeg = path.join(work, 'slow-ffmpeg');
let d2;

after(async () => { if (d2) await d2.stop(); });

// Processes whose command line is `sleep SLEEP_S` (the wrapper's child).
function sleepers() {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd === `sleep\0${SLEEP_S}\0`) found.push(Number(pid));
  }
  return found;
}

// A daemon whose ffmpeg is the slow wrapper, and a 2 s recording left
// `processing` (room `room`); returns the daemon and the recording id.
async function processingRecording(room, config = {}) {
  fs.writeFileSync(slowFfmpeg, `#!/bin/sh\necho $$ >> '${started}'\nsleep ${SLEEP_S}\nexec ffmpeg "$@"\n`, { mode: 0o755 });
  fs.rmSync(started, { force: true });
  const d = await A.startAuthDaemon({ recording_ffmpeg: slowFfmpeg, ...config });
  const dir = path.join(work, `raw-${room}`);
  fs.mkdirSync(dir);
  const s = await mlrec(['synth', dir, '--duration', '2']);
  assert.strictEqual(s.code, 0, s.stderr);
  const id = await d.sql(`INSERT INTO recordings (room_id, session_ref, raw_dir) VALUES ('${room}', '${room}', '${dir}') RETURNING id`);
  await d.sql(`UPDATE recordings SET status = 'processing', ended_at = now() WHERE id = ${id}`);
  return { d, id };
}

const slowStarted = () => waitFor(() => fs.existsSync(started) && sleepers().length > 0, 120000, 'the slow ffmpeg to start');

test('SIGTERM during processing: ffmpeg killed, prompt exit, the next start finishes the recording', { timeout: 300000 }, async () => {
  const { d, id } = await processingRecording('7001');
  await d.sql(`INSERT INTO jobs (kind, payload, dedupe_key) VALUES ('recording.process', '{"recording_id": ${id}}', 'recording:${id}')`);
  await slowStarted();

  const t0 = Date.now();
  const res = await d.stop({ timeoutMs: 90000 }); // fails the test on a non-zero exit (SIGKILL)
  const took = Date.now() - t0;
  assert.strictEqual(res.code, 0);
  console.log('shutdown during processing', JSON.stringify({ exit_ms: took }));
  assert.ok(took < (SANITIZED ? 30000 : 15000), `the daemon took ${took} ms to exit`);
  assert.deepStrictEqual(sleepers(), [], 'the wrapper\'s child was killed with its group');
  assert.match(d.logs(), /interrupted by shutdown/);

  const row = JSON.parse(await d.sql(`SELECT row_to_json(r) FROM recordings r WHERE id = ${id}`));
  assert.strictEqual(row.status, 'processing', 'not failed because of the shutdown');
  assert.strictEqual(row.failure_reason, null);
  const job = JSON.parse(await d.sql(`SELECT row_to_json(j) FROM jobs j WHERE kind = 'recording.process'`));
  assert.strictEqual(job.state, 'queued');
  assert.strictEqual(job.attempts, 0, 'the interrupted run does not use up an attempt');
  assert.strictEqual(job.interruptions, 1);
  assert.strictEqual(job.locked_by, null);
  assert.match(job.last_error, /shutting down/);

  // Next start, same database and data folder, the real ffmpeg.
  d2 = await startDaemon({ port: d.port, config: { ...d.config, redis_url: '', smtp_url: '',
    recording_ffmpeg: 'ffmpeg', job_poll_ms: 100 } });
  d2.sql = d.sql;
  const ready = await R.until(async () => {
    const r = JSON.parse(await d2.sql(`SELECT row_to_json(r) FROM recordings r WHERE id = ${id}`));
    return r.status === 'ready' || r.status === 'failed' ? r : null;
  }, 180000, `recording ${id} to finish after the restart`);
  assert.strictEqual(ready.status, 'ready', `${ready.failure_reason}\n${d2.logs().slice(-3000)}`);
  assert.strictEqual(ready.attempts, 1, 'still the first processing of the row');
  const p = await R.probeSummary(path.join(d.config.data_dir, 'recordings', ready.storage_key));
  assert.strictEqual(p.audio, 1);
  assert.strictEqual(p.video, 1);
  assert.ok(p.duration > 1.5 && p.duration < 3, `duration ${p.duration} s of a 2 s recording`);
  assert.strictEqual(await d2.sql(`SELECT state || ' ' || attempts FROM jobs WHERE kind = 'recording.process'`), 'done 1');
  assert.strictEqual(fs.readFileSync(started, 'utf8').trim().split('\n').length, 1, 'the slow ffmpeg ran once');
});

// A job that has already been interrupted CTL_JOB_FREE_INTERRUPTIONS (5)
// times: one more interruption counts as an attempt, and with no attempts
// left the job ends failed instead of cycling through restarts for ever.
test('a job interrupted too often spends attempts, then fails', { timeout: 300000 }, async () => {
  // No max_attempts of its own (as the recorder enqueues it): the
  // configured job_max_attempts (2 here) applies.
  const { d, id } = await processingRecording('7002', { job_max_attempts: 2 });
  const jobId = await d.sql(`INSERT INTO jobs (kind, payload, dedupe_key, interruptions)
    VALUES ('recording.process', '{"recording_id": ${id}}', 'recording:${id}', 5) RETURNING id`);
  await slowStarted();
  await d.stop({ timeoutMs: 90000 });
  let job = JSON.parse(await d.sql(`SELECT row_to_json(j) FROM jobs j WHERE id = ${jobId}`));
  assert.strictEqual(job.state, 'queued', 'one attempt left');
  assert.strictEqual(job.attempts, 1, 'the sixth interruption counted as an attempt');
  assert.strictEqual(job.interruptions, 6);
  assert.match(job.last_error, /interrupted 6 times: counted as an attempt/);
  assert.strictEqual(await d.sql(`SELECT status FROM recordings WHERE id = ${id}`), 'processing');

  // Second and last attempt, interrupted too: failed, not queued again.
  fs.rmSync(started, { force: true });
  const d3 = await startDaemon({ port: d.port, config: { ...d.config, redis_url: '', smtp_url: '',
    recording_ffmpeg: slowFfmpeg, job_poll_ms: 100, job_max_attempts: 2 } });
  await slowStarted();
  await d3.stop({ timeoutMs: 90000 });
  job = JSON.parse(await d.sql(`SELECT row_to_json(j) FROM jobs j WHERE id = ${jobId}`));
  assert.strictEqual(job.state, 'failed');
  assert.strictEqual(job.attempts, 2);
  assert.strictEqual(job.interruptions, 7);
  assert.match(d3.logs(), /interrupted by shutdown 7 times, no attempts left: failed/);
  // ... and the recording is settled, not left processing for ever.
  const row = JSON.parse(await d.sql(`SELECT row_to_json(r) FROM recordings r WHERE id = ${id}`));
  assert.strictEqual(row.status, 'failed');
  assert.match(row.failure_reason, /interrupted by node shutdowns too often/);
});

// A SIGKILLed daemon cannot stop its programs: the kernel does
// (PR_SET_PDEATHSIG), so no ffmpeg keeps running without a daemon.
test('SIGKILL during processing: the program the daemon started dies with it', { timeout: 300000 }, async () => {
  const { d, id } = await processingRecording('7003');
  await d.sql(`INSERT INTO jobs (kind, payload, dedupe_key) VALUES ('recording.process', '{"recording_id": ${id}}', 'recording:${id}')`);
  await slowStarted();
  const wrapper = Number(fs.readFileSync(started, 'utf8').trim().split('\n')[0]);
  const alive = (pid) => {
    try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z'; } catch { return false; }
  };
  assert.ok(alive(wrapper), 'the wrapper runs');
  try {
    await d.stop({ signal: 'SIGKILL' });
    await waitFor(() => !alive(wrapper), 10000, 'the program to die with the daemon');
  } finally {
    // The wrapper's own child (sleep) is not covered: end it here.
    for (const pid of sleepers()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
});

// An S3 that accepts the connection and never answers: the upload would
// wait for its timeout (60 s, then retries). SIGTERM aborts it at once,
// the job goes back to the queue and the row stays processing.
test('SIGTERM during an S3 upload: aborted at once, the job queued again', { timeout: 300000 }, async () => {
  const conns = [];
  const hole = net.createServer((c) => { conns.push(c); c.on('error', () => {}); });
  await new Promise((r) => hole.listen(0, '127.0.0.1', r));
  try {
    const { d, id } = await processingRecording('7004', {
      recording_ffmpeg: 'ffmpeg', s3_endpoint: `http://127.0.0.1:${hole.address().port}`, s3_bucket: 'rec',
      s3_access_key: 'k', s3_secret_key: 's', s3_path_style: true });
    const jobId = await d.sql(`INSERT INTO jobs (kind, payload, dedupe_key) VALUES ('recording.process', '{"recording_id": ${id}}', 'recording:${id}') RETURNING id`);
    await waitFor(() => conns.length > 0, 120000, 'the upload to start');
    const t0 = Date.now();
    await d.stop({ timeoutMs: 30000 }); // fails the test unless it exits 0 after SIGTERM
    const took = Date.now() - t0;
    assert.ok(took < 10000, `shutdown took ${took} ms during an upload`);
    const job = JSON.parse(await d.sql(`SELECT row_to_json(j) FROM jobs j WHERE id = ${jobId}`));
    assert.strictEqual(job.state, 'queued');
    assert.strictEqual(job.attempts, 0, 'an interrupted upload does not use up an attempt');
    assert.strictEqual(job.interruptions, 1);
    assert.match(job.last_error, /cancelled \(shutting down\)/);
    assert.strictEqual(await d.sql(`SELECT status FROM recordings WHERE id = ${id}`), 'processing');
  } finally {
    for (const c of conns) c.destroy();
    hole.close();
  }
});
