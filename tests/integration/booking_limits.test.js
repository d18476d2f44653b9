// Rate limits of the booking routes (per user; per client address when
// signed out) against a real daemon, PostgreSQL and Redis: the request over
// the limit gets 429 with Retry-After and a problem body and changes
// nothing; other users are not affected; limits come from the config.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d, key;
const H = 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const api = (method, path, opts) => A.api(d, method, path, opts);

const sqlUser = (role = 'mentee') => A.sqlUser(d, key, { role, name: 'Limited', tag: 'bl' });

function assert429(r) {
  assert.strictEqual(r.status, 429, JSON.stringify(r.body));
  assert.match(r.headers.get('content-type'), /problem\+json/);
  const after = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(after) && after >= 1 && after <= 600, `Retry-After ${r.headers.get('retry-after')}`);
}

test.before(async () => {
  d = await A.startAuthDaemon({ booking_write_limit: 4, booking_read_limit: 6, booking_rate_window_s: 600 });
  await A.userWithRole(d, 'mentee');
  key = await A.signingKey(d);
});
test.after(async () => { if (d) await d.stop(); });

test('booking writes: the 5th change within the window is 429 and writes nothing', async () => {
  const m = await sqlUser('mentor');
  const { type } = await A.setupMentor(d, m, { profile: { name: 'Limit Mentor', time_zone: 'UTC' },
    rules: A.everyDay('08:00', '20:00'), type: { title: 't', duration_min: 60, horizon_days: 30 } });
  const slots = (await api('GET', `/api/v1/session-types/${type.id}/slots?from=${iso(Date.now() + 48 * H)}&to=${iso(Date.now() + 72 * H)}`.replace(/:/g, '%3A'))).body.slots;
  const u = await sqlUser();
  // 4 allowed: two bookings, one bad request (counts too), one cancel
  let r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: type.id, start: slots[0].start } });
  assert.strictEqual(r.status, 201);
  const first = r.body.id;
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: type.id, start: slots[1].start } });
  assert.strictEqual(r.status, 201);
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: type.id } });
  assert.strictEqual(r.status, 422); // no start
  r = await api('POST', `/api/v1/bookings/${first}/cancel`, { token: u.access });
  assert.strictEqual(r.status, 200);
  // the 5th: refused, nothing stored
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: type.id, start: slots[2].start } });
  assert429(r);
  r = await api('PUT', `/api/v1/bookings/${first}/agenda`, { token: u.access, body: { agenda: 'x' } });
  assert429(r);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM bookings WHERE mentee_id = ${u.id}`), '2');
  assert.strictEqual(await d.sql(`SELECT agenda FROM bookings WHERE id = ${first}`), '');
  // another user still books
  const v = await sqlUser();
  r = await api('POST', '/api/v1/bookings', { token: v.access, body: { session_type_id: type.id, start: slots[2].start } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
});

test('booking reads: per user, and per client address when signed out', async () => {
  const u = await sqlUser();
  for (let i = 0; i < 6; i++) assert.strictEqual((await api('GET', '/api/v1/bookings', { token: u.access })).status, 200);
  assert429(await api('GET', '/api/v1/notifications', { token: u.access }));
  const v = await sqlUser();
  assert.strictEqual((await api('GET', '/api/v1/bookings', { token: v.access })).status, 200);
  // anonymous search: the address's budget (a few were used by the test above)
  let last;
  for (let i = 0; i < 8; i++) last = await api('GET', '/api/v1/mentors?skill=nothing');
  assert429(last);
});
