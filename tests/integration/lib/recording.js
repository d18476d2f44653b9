// Helpers for the recorder_live*.test.js files: a daemon with room tokens
// and an SMTP sink (accounts are made through the real sign-up flow), a
// recorded (or not) live session with a mentor, a booked mentee and an
// outsider, room tokens from POST /sessions/{id}/join, and ffprobe.
'use strict';
const { execFile } = require('child_process');
const A = require('./auth');
const { until, sleep } = require('./room');

// A session of a (recorded) session type, live now, with one confirmed mentee.
async function makeSession(d, { recorded = true } = {}) {
  const mentor = await A.userWithRole(d, 'mentor');
  const mentee = await A.userWithRole(d, 'mentee');
  const outsider = await A.userWithRole(d, 'mentee');
  const idOf = async (u) => Number(await d.sql(`SELECT id FROM users WHERE email = '${u.email}'`));
  const [mid, eid] = [await idOf(mentor), await idOf(mentee)];
  await d.sql(`INSERT INTO mentor_profiles (user_id, name, time_zone) VALUES (${mid}, 'Rec Mentor', 'UTC')`);
  const typeId = Number(await d.sql(`INSERT INTO session_types (mentor_id, title, duration_min, capacity, recorded)
    VALUES (${mid}, 'Recorded class', 60, 4, ${recorded}) RETURNING id`));
  const sid = Number(await d.sql(`INSERT INTO sessions (mentor_id, session_type_id, starts_at, ends_at, occupied, capacity, status, live_at)
    VALUES (${mid}, ${typeId}, now() - interval '1 minute', now() + interval '59 minutes',
            tstzrange(now() - interval '1 minute', now() + interval '59 minutes'), 4, 'live', now()) RETURNING id`));
  await d.sql(`INSERT INTO bookings (session_id, mentee_id, status, confirmed_at) VALUES (${sid}, ${eid}, 'confirmed', now())`);
  return { sid, mentor, mentee, outsider };
}

// A room token for user u (its access token) through the REST API.
async function roomToken(d, sid, u) {
  const r = await A.api(d, 'POST', `/api/v1/sessions/${sid}/join`, { token: u.access });
  if (r.status !== 200) throw new Error(`join ${sid}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_token;
}

async function recordingRows(d, sid) {
  const t = await d.sql(`SELECT coalesce(json_agg(row_to_json(r) ORDER BY r.id), '[]') FROM recordings r WHERE session_ref = '${sid}'`);
  return JSON.parse(t);
}

// Wait until the session's newest recording has one of `states`.
async function waitRecording(d, sid, states, timeoutMs = 180000) {
  return until(async () => {
    const rows = await recordingRows(d, sid);
    const r = rows[rows.length - 1];
    return r && states.includes(r.status) ? r : null;
  }, timeoutMs, `recording of session ${sid} to become ${states.join('|')}`);
}

function ffprobe(file) {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file],
      { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe ${file}: ${stderr || err.message}`));
        resolve(JSON.parse(stdout));
      });
  });
}

// {audio, video, duration, startDiff} of a media file.
async function probeSummary(file) {
  const p = await ffprobe(file);
  const audio = p.streams.filter((s) => s.codec_type === 'audio');
  const video = p.streams.filter((s) => s.codec_type === 'video');
  const st = (s) => Number(s.start_time || 0);
  return {
    audio: audio.length, video: video.length,
    audioCodec: audio[0] && audio[0].codec_name, videoCodec: video[0] && video[0].codec_name,
    duration: Number(p.format.duration),
    startDiff: audio[0] && video[0] ? Math.abs(st(audio[0]) - st(video[0])) : null,
    width: video[0] && video[0].width, height: video[0] && video[0].height,
  };
}

module.exports = { makeSession, roomToken, recordingRows, waitRecording, ffprobe, probeSummary, until, sleep };
