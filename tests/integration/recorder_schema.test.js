// schema/0004_recordings.sql on a real PostgreSQL: the status machine
// (recording -> processing -> ready | failed -> processing) is enforced by
// the trigger and the CHECK constraints, one running recording per room.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { execFileSync } = require('child_process');
const { postgres } = require('./lib/servers');

let pg, db;

function sql(q) {
  return pg.psql(db, q);
}

function fails(q, re) {
  assert.throws(() => execFileSync('psql', ['-h', pg.sock, '-U', 'mentorlink', '-d', db, '-v', 'ON_ERROR_STOP=1',
    '-X', '-q', '-c', q], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), re);
}

test.before(async () => {
  pg = await postgres();
  db = (await pg.createDatabase()).name;
  const file = path.resolve(__dirname, '..', '..', 'schema', '0004_recordings.sql');
  execFileSync('psql', ['-h', pg.sock, '-U', 'mentorlink', '-d', db, '-v', 'ON_ERROR_STOP=1', '-X', '-q',
    '-1', '-f', file], { stdio: 'ignore' });
});

test('a recording goes recording -> processing -> failed -> processing -> ready', () => {
  const id = sql("INSERT INTO recordings (room_id, session_ref, raw_dir) VALUES ('room-a', 's1', '/r/s1') RETURNING id");
  fails("INSERT INTO recordings (room_id, session_ref, raw_dir) VALUES ('room-a', 's2', '/r/s2')", /recordings_one_active_per_room/);
  fails(`UPDATE recordings SET status = 'ready' WHERE id = ${id}`, /cannot go from recording to ready/);
  fails(`UPDATE recordings SET status = 'processing' WHERE id = ${id}`, /recordings_ended_unless_recording/);
  sql(`UPDATE recordings SET status = 'processing', ended_at = now() WHERE id = ${id}`);
  fails(`UPDATE recordings SET status = 'failed' WHERE id = ${id}`, /recordings_reason_iff_failed/);
  sql(`UPDATE recordings SET status = 'failed', failure_reason = 'ffmpeg exited with status 1' WHERE id = ${id}`);
  fails(`UPDATE recordings SET status = 'ready' WHERE id = ${id}`, /cannot go from failed to ready/);
  sql(`UPDATE recordings SET status = 'processing', failure_reason = NULL WHERE id = ${id}`);
  fails(`UPDATE recordings SET status = 'ready' WHERE id = ${id}`, /recordings_ready_has_output/);
  sql(`UPDATE recordings SET status = 'ready', duration_ms = 3000, output_bytes = 73572, storage_kind = 's3',
       storage_key = 'sessions/s1/recording.mp4' WHERE id = ${id}`);
  fails(`UPDATE recordings SET status = 'processing' WHERE id = ${id}`, /cannot go from ready to processing/);
  assert.strictEqual(sql(`SELECT status || ' ' || attempts FROM recordings WHERE id = ${id}`), 'ready 2');
  // The room is free for a new recording again.
  sql("INSERT INTO recordings (room_id, session_ref, raw_dir) VALUES ('room-a', 's2', '/r/s2')");
});

test('bad values are refused by CHECK constraints', () => {
  fails("INSERT INTO recordings (room_id, session_ref, raw_dir, status) VALUES ('r', 's', '/r', 'uploaded')", /violates check constraint/);
  fails("INSERT INTO recordings (room_id, session_ref, raw_dir, track_files) VALUES ('r', 's', '/r', '{}')", /track_files_check/);
  fails("INSERT INTO recordings (room_id, session_ref, raw_dir, raw_bytes) VALUES ('r', 's', '/r', -1)", /raw_bytes_check/);
});
