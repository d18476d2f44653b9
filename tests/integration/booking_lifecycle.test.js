// Booking lifecycle details not covered by booking_core.test.js, against a
// real daemon, PostgreSQL, Redis and SMTP sink: both reminders (24 h and
// 30 min) are queued at the right instants and the 30-minute one notifies
// in-app and by email; a reschedule moves the reminders; the join window is
// enforced on both sides (too early: 409); session state changes out of
// order are 409 and change nothing.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d, key;
const H = 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const api = (method, path, opts) => A.api(d, method, path, opts);

const sqlUser = (role = 'mentee') => A.sqlUser(d, key, { role, name: 'Life', tag: 'lc' });

let mentor, slots;
test.before(async () => {
  d = await A.startAuthDaemon();
  await A.userWithRole(d, 'mentee');
  key = await A.signingKey(d);
  mentor = await A.setupMentor(d, await sqlUser('mentor'), { profile: { name: 'Lifecycle Mentor', time_zone: 'UTC' },
    rules: A.everyDay('00:00', '24:00'), type: { title: 'life', duration_min: 60, horizon_days: 30 } });
  const r = await api('GET', `/api/v1/session-types/${mentor.type.id}/slots?from=${iso(Date.now() + 72 * H)}&to=${iso(Date.now() + 80 * H)}`.replace(/:/g, '%3A'));
  slots = r.body.slots;
  assert.ok(slots.length >= 4);
});
test.after(async () => { if (d) await d.stop(); });

const jobsOf = (id) => d.sql(`SELECT string_agg((payload->>'kind') || '=' || round(extract(epoch FROM run_at))::text, ',' ORDER BY payload->>'kind') FROM jobs WHERE kind = 'booking.reminder' AND state = 'queued' AND (payload->>'booking_id')::bigint = ${id}`);

test('both reminders are queued at start - 24 h and start - 30 min; the 30-minute one notifies in-app and by email', async () => {
  const u = await sqlUser();
  const r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: mentor.type.id, start: slots[0].start } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  const start = Date.parse(slots[0].start) / 1000;
  const got = Object.fromEntries((await jobsOf(r.body.id)).split(',').map((x) => x.split('=')));
  assert.ok(Math.abs(Number(got['24h']) - (start - 86400)) <= 5, JSON.stringify(got));
  assert.ok(Math.abs(Number(got['30m']) - (start - 1800)) <= 5, JSON.stringify(got));
  await d.sql(`UPDATE jobs SET run_at = now() WHERE kind = 'booking.reminder' AND payload->>'kind' = '30m' AND (payload->>'booking_id')::bigint = ${r.body.id}`);
  let note = '';
  for (let i = 0; i < 150 && !note; i++) {
    note = await d.sql(`SELECT kind FROM notifications WHERE booking_id = ${r.body.id} AND kind = 'reminder.30m'`);
    if (!note) await new Promise((res) => setTimeout(res, 100));
  }
  assert.strictEqual(note, 'reminder.30m');
  const mail = await d.sink.waitFor((x) => x.to.includes(u.email) && /Reminder:/.test(x.subject), 15000);
  assert.ok(mail);
  const inApp = await api('GET', '/api/v1/notifications', { token: u.access });
  assert.ok(inApp.body.items.some((x) => x.kind === 'reminder.30m' && x.booking_id === r.body.id));
});

test('a reschedule moves the reminders to the new start', async () => {
  const u = await sqlUser();
  let r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: mentor.type.id, start: slots[1].start } });
  assert.strictEqual(r.status, 201);
  const old = r.body.id;
  r = await api('POST', `/api/v1/bookings/${old}/reschedule`, { token: u.access, body: { start: slots[2].start } });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.strictEqual(await jobsOf(old), '');
  const start = Date.parse(slots[2].start) / 1000;
  const got = Object.fromEntries((await jobsOf(r.body.id)).split(',').map((x) => x.split('=')));
  assert.ok(Math.abs(Number(got['30m']) - (start - 1800)) <= 5, JSON.stringify(got));
});

test('join window and session states: too early is 409 for both sides; out-of-order changes are 409', async () => {
  const u = await sqlUser();
  const r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: mentor.type.id, start: slots[3].start } });
  assert.strictEqual(r.status, 201);
  const sid = r.body.session_id;
  for (const who of [mentor, u]) {
    const j = await api('POST', `/api/v1/sessions/${sid}/join`, { token: who.access });
    assert.strictEqual(j.status, 409, JSON.stringify(j.body));
    assert.match(j.headers.get('content-type'), /problem\+json/);
  }
  let x = await api('POST', `/api/v1/sessions/${sid}/start`, { token: mentor.access });
  assert.strictEqual(x.status, 409); // 3 days early
  x = await api('POST', `/api/v1/sessions/${sid}/end`, { token: mentor.access });
  assert.strictEqual(x.status, 409); // not started
  assert.strictEqual(await d.sql(`SELECT status FROM sessions WHERE id = ${sid}`), 'scheduled');
  // the join window closes 30 minutes after the end: move the session into the past
  await d.sql(`UPDATE sessions SET starts_at = now() - interval '3 hours', ends_at = now() - interval '2 hours', occupied = tstzrange(now() - interval '3 hours', now() - interval '2 hours') WHERE id = ${sid}`);
  x = await api('POST', `/api/v1/sessions/${sid}/join`, { token: u.access });
  assert.strictEqual(x.status, 409);
  x = await api('POST', `/api/v1/sessions/${sid}/end`, { token: mentor.access });
  assert.strictEqual(x.status, 200);
  x = await api('POST', `/api/v1/sessions/${sid}/start`, { token: mentor.access });
  assert.strictEqual(x.status, 409); // ended is final
  x = await api('POST', `/api/v1/sessions/${sid}/join`, { token: mentor.access });
  assert.strictEqual(x.status, 409);
  assert.strictEqual(await d.sql(`SELECT status FROM sessions WHERE id = ${sid}`), 'ended');
});
