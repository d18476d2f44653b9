// Mentors, availability, slots and booking against a real daemon,
// PostgreSQL and Redis: no double booking under concurrency (1:1 and group),
// reschedule racing a booking, slots across DST changes in Europe/London and
// America/New_York (exact UTC instants), permissions, reviews, room tokens,
// and bad input answered with 4xx problems that leave nothing half-written.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');
const { SigClient } = require('./lib/wsclient');

let d, key, mentor, mentee;
const H = 3600 * 1000;

// Users made in SQL, with access tokens signed by the daemon's key: 50
// sign-ups by email code would make the race tests slow, not stronger.
const sqlUser = (role = 'mentee', name = 'Racer') => A.sqlUser(d, key, { role, name, tag: 'bk' });

const api = (method, path, opts) => A.api(d, method, path, opts);
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function makeMentor(tz, rules, typeOverrides = {}) {
  const m = await sqlUser('mentor', 'Mentor');
  return A.setupMentor(d, m, { profile: { name: `Mentor ${m.id}`, time_zone: tz, skills: ['rust', 'c'], price_cents: 0 },
    rules, type: { title: '1:1', duration_min: 60, horizon_days: 365, ...typeOverrides } });
}

const allDays = (start, end) => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start, end }));

async function slots(typeId, from, to, tz = 'UTC') {
  const r = await api('GET', `/api/v1/session-types/${typeId}/slots?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&tz=${encodeURIComponent(tz)}`);
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  return r.body.slots;
}

test.before(async () => {
  d = await A.startAuthDaemon();
  mentee = await A.userWithRole(d, 'mentee'); // also makes the signing key
  key = await A.signingKey(d);
  mentor = await makeMentor('Europe/London', allDays('08:00', '12:00'));
});
test.after(async () => { if (d) await d.stop(); });

test('50 parallel bookings of one 1:1 slot: exactly one wins, the rest get 409', async () => {
  const s = await slots(mentor.type.id, iso(Date.now() + 48 * H), iso(Date.now() + 96 * H));
  assert.ok(s.length > 0);
  const slot = s[0];
  const users = await Promise.all(Array.from({ length: 50 }, () => sqlUser()));
  const res = await Promise.all(users.map((u) => api('POST', '/api/v1/bookings', {
    token: u.access, body: { session_type_id: mentor.type.id, start: slot.start } })));
  const codes = res.map((r) => r.status);
  assert.strictEqual(codes.filter((c) => c === 201).length, 1, codes.join(','));
  assert.strictEqual(codes.filter((c) => c === 409).length, 49, codes.join(','));
  for (const r of res.filter((x) => x.status === 409)) assert.match(r.headers.get('content-type'), /problem\+json/);
  const n = await d.sql(`SELECT count(*) FROM bookings b JOIN sessions s ON s.id = b.session_id WHERE s.session_type_id = ${mentor.type.id} AND s.starts_at = '${slot.start}' AND b.status IN ('held','confirmed')`);
  assert.strictEqual(n, '1');
  const won = res.find((r) => r.status === 201).body;
  assert.strictEqual(won.status, 'confirmed');
  // the slot is gone from the list
  const after = await slots(mentor.type.id, iso(Date.now() + 48 * H), iso(Date.now() + 96 * H));
  assert.ok(!after.some((x) => x.start === slot.start));
});

test('50 parallel bookings of a group slot of capacity 10: exactly 10', async () => {
  const m = await makeMentor('UTC', allDays('09:00', '10:00'), { title: 'group', capacity: 10 });
  const s = await slots(m.type.id, iso(Date.now() + 48 * H), iso(Date.now() + 96 * H));
  assert.strictEqual(s[0].seats_left, 10);
  const users = await Promise.all(Array.from({ length: 50 }, () => sqlUser()));
  const res = await Promise.all(users.map((u) => api('POST', '/api/v1/bookings', {
    token: u.access, body: { session_type_id: m.type.id, start: s[0].start } })));
  const codes = res.map((r) => r.status);
  assert.strictEqual(codes.filter((c) => c === 201).length, 10, codes.join(','));
  assert.strictEqual(codes.filter((c) => c === 409).length, 40, codes.join(','));
  const row = await d.sql(`SELECT count(*) || ' ' || max(seats_taken) FROM sessions WHERE session_type_id = ${m.type.id} AND status = 'scheduled'`);
  assert.strictEqual(row, '1 10');
  const live = await d.sql(`SELECT count(*) FROM bookings b JOIN sessions s ON s.id = b.session_id WHERE s.session_type_id = ${m.type.id} AND b.status = 'confirmed'`);
  assert.strictEqual(live, '10');
});

test('a reschedule racing bookings never loses or doubles a seat', async () => {
  const m = await makeMentor('UTC', allDays('13:00', '15:00'), { title: 'group2', capacity: 3 });
  const s = await slots(m.type.id, iso(Date.now() + 48 * H), iso(Date.now() + 96 * H));
  const [a, b] = [s[0], s[1]];
  const holder = await sqlUser();
  let r = await api('POST', '/api/v1/bookings', { token: holder.access, body: { session_type_id: m.type.id, start: a.start } });
  assert.strictEqual(r.status, 201);
  const bookingId = r.body.id;
  // target slot b has 3 seats; 5 bookers race the rescheduler for them
  const racers = await Promise.all(Array.from({ length: 5 }, () => sqlUser()));
  const all = await Promise.all([
    api('POST', `/api/v1/bookings/${bookingId}/reschedule`, { token: holder.access, body: { start: b.start } }),
    ...racers.map((u) => api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: m.type.id, start: b.start } })),
  ]);
  const resched = all[0];
  const won = all.slice(1).filter((x) => x.status === 201).length;
  const seatsB = Number(await d.sql(`SELECT coalesce(max(seats_taken), 0) FROM sessions WHERE session_type_id = ${m.type.id} AND starts_at = '${b.start}' AND status = 'scheduled'`));
  const liveB = Number(await d.sql(`SELECT count(*) FROM bookings bk JOIN sessions s ON s.id = bk.session_id WHERE s.session_type_id = ${m.type.id} AND s.starts_at = '${b.start}' AND bk.status IN ('held','confirmed')`));
  const liveA = Number(await d.sql(`SELECT count(*) FROM bookings bk JOIN sessions s ON s.id = bk.session_id WHERE s.session_type_id = ${m.type.id} AND s.starts_at = '${a.start}' AND bk.status IN ('held','confirmed')`));
  assert.strictEqual(seatsB, liveB);
  assert.strictEqual(liveB, 3);
  if (resched.status === 200) {
    assert.strictEqual(won, 2);
    assert.strictEqual(liveA, 0); // moved, not doubled
    assert.strictEqual(resched.body.start, b.start);
  } else {
    assert.strictEqual(resched.status, 409, JSON.stringify(resched.body));
    assert.strictEqual(won, 3);
    assert.strictEqual(liveA, 1); // kept the old seat: nothing lost
    const old = await api('GET', `/api/v1/bookings/${bookingId}`, { token: holder.access });
    assert.strictEqual(old.body.status, 'confirmed');
  }
});

// The next days (within the 365-day horizon) when tz changes its UTC offset.
function offsetAt(tz, ms) {
  const p = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(new Date(ms));
  return p.find((x) => x.type === 'timeZoneName').value;
}
function localParts(tz, ms) {
  const f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  const o = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { date: `${o.year}-${o.month}-${o.day}`, time: `${o.hour}:${o.minute}` };
}
function transitions(tz) {
  const out = [];
  const start = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 2, 12);
  for (let i = 0; i < 355; i++) {
    const t = start + i * 24 * H;
    if (offsetAt(tz, t) !== offsetAt(tz, t - 24 * H)) out.push(localParts(tz, t).date);
  }
  return out;
}

for (const tz of ['Europe/London', 'America/New_York']) {
  test(`slots on DST-change days in ${tz} are exact UTC instants`, async () => {
    const days = transitions(tz);
    assert.ok(days.length >= 1, 'a DST change within the horizon');
    // rule: 00:00-04:00 local on the weekday of each change day, 60-minute slots
    const weekdays = [...new Set(days.map((x) => { const w = new Date(x + 'T12:00:00Z').getUTCDay(); return w === 0 ? 7 : w; }))];
    const m = await makeMentor(tz, weekdays.map((weekday) => ({ weekday, start: '00:00', end: '04:00' })));
    for (const day of days) {
      const noon = Date.parse(day + 'T12:00:00Z');
      const got = (await slots(m.type.id, iso(noon - 36 * H), iso(noon + 36 * H), 'America/New_York'))
        .filter((s) => localParts(tz, Date.parse(s.start)).date === day);
      // every slot starts on a whole local hour that exists, ends 60 minutes
      // later, and is shown in the viewer's zone with the right offset
      const locals = got.map((s) => localParts(tz, Date.parse(s.start)).time);
      for (const s of got) {
        assert.strictEqual(Date.parse(s.end) - Date.parse(s.start), H);
        const v = localParts('America/New_York', Date.parse(s.start));
        assert.strictEqual(s.start_local.slice(0, 16), `${v.date}T${v.time}`);
        assert.strictEqual(Date.parse(s.start_local), Date.parse(s.start));
      }
      const instants = got.map((s) => s.start);
      const known = {
        '2027-03-28': ['2027-03-28T00:00:00Z', '2027-03-28T01:00:00Z', '2027-03-28T02:00:00Z'],
        '2027-10-31': ['2027-10-30T23:00:00Z', '2027-10-31T01:00:00Z', '2027-10-31T02:00:00Z', '2027-10-31T03:00:00Z'],
        '2027-03-14': ['2027-03-14T05:00:00Z', '2027-03-14T06:00:00Z', '2027-03-14T07:00:00Z'],
        '2027-11-07': ['2027-11-07T04:00:00Z', '2027-11-07T06:00:00Z', '2027-11-07T07:00:00Z', '2027-11-07T08:00:00Z'],
      };
      if (known[day]) assert.deepStrictEqual(instants, known[day], `${tz} ${day}`);
      else assert.ok(locals.length >= 3, `${tz} ${day}: ${locals}`);
      // spring forward skips the missing hour; fall back keeps 00..03 once each
      assert.deepStrictEqual([...new Set(locals)], locals);
    }
  });
}

test('a mentee cannot change a mentor\'s availability (403); bad availability is refused whole', async () => {
  const r = await api('PUT', '/api/v1/mentor/availability', { token: mentee.access, body: { rules: [] } });
  assert.strictEqual(r.status, 403);
  const before = await api('GET', '/api/v1/mentor/availability', { token: mentor.access });
  const cases = [
    { rules: [{ weekday: 1, start: '09:00', end: '12:00' }, { weekday: 1, start: '11:00', end: '13:00' }] }, // overlap
    { rules: [{ weekday: 1, start: '12:00', end: '09:00' }] },         // end before start
    { rules: [{ weekday: 8, start: '09:00', end: '10:00' }] },         // no such weekday
    { rules: [{ weekday: 1, start: '9am', end: '10:00' }] },           // bad time
    { blackouts: [{ start: '2030-01-02T00:00:00Z', end: '2030-01-01T00:00:00Z' }] },
    { rules: [], bogus: 1 },
  ];
  for (const body of cases) {
    const x = await api('PUT', '/api/v1/mentor/availability', { token: mentor.access, body });
    assert.ok(x.status >= 400 && x.status < 500, `${JSON.stringify(body)} -> ${x.status}`);
    assert.match(x.headers.get('content-type'), /problem\+json/);
  }
  const after = await api('GET', '/api/v1/mentor/availability', { token: mentor.access });
  assert.deepStrictEqual(after.body, before.body);
});

test('bad input: unknown zones, past times, capacity 0, absurd pagination, bad slot ranges', async () => {
  const m = await sqlUser('mentor');
  let r = await api('PUT', '/api/v1/mentor/profile', { token: m.access, body: { name: 'Z', time_zone: 'Mars/Olympus' } });
  assert.strictEqual(r.status, 422);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM mentor_profiles WHERE user_id = ${m.id}`), '0');
  r = await api('POST', '/api/v1/mentor/session-types', { token: mentor.access, body: { title: 'x', duration_min: 60, capacity: 0 } });
  assert.strictEqual(r.status, 422);
  r = await api('POST', '/api/v1/bookings', { token: mentee.access, body: { session_type_id: mentor.type.id, start: '2020-01-01T09:00:00Z' } });
  assert.strictEqual(r.status, 422);
  r = await api('POST', '/api/v1/bookings', { token: mentee.access, body: { session_type_id: mentor.type.id, start: iso(Date.now() + 50 * H + 17 * 60000) } });
  assert.strictEqual(r.status, 422); // not on a slot boundary
  r = await api('POST', '/api/v1/bookings', { token: mentee.access, body: { session_type_id: 999999, start: iso(Date.now() + 50 * H) } });
  assert.strictEqual(r.status, 404);
  const t = mentor.type.id;
  for (const q of [`from=${iso(Date.now() + 10 * H)}&to=${iso(Date.now())}`, `from=${iso(Date.now())}&to=${iso(Date.now() + 100 * 24 * H)}`,
    `from=${iso(Date.now())}&to=${iso(Date.now() + H)}&tz=Nowhere/City`, 'from=yesterday&to=today']) {
    r = await api('GET', `/api/v1/session-types/${t}/slots?${q.replace(/:/g, '%3A')}`);
    assert.ok(r.status === 400 || r.status === 422, `${q} -> ${r.status}`);
  }
  for (const q of ['limit=0', 'limit=1000000', 'limit=-1', 'cursor=forged', 'sort=random', 'min_rating=9', 'min_rating=nan', 'min_rating=inf', 'nope=1']) {
    r = await api('GET', `/api/v1/mentors?${q}`);
    assert.strictEqual(r.status, 400, q);
  }
  assert.strictEqual(await d.sql(`SELECT count(*) FROM bookings WHERE mentee_id = ${mentee.user.id}`), '0');
});

test('search: filters, typo-tolerant name, sort and cursor pagination', async () => {
  const names = ['Alexandra Fernsby', 'Bartholomew Quill', 'Cordelia Winthrop'];
  for (let i = 0; i < names.length; i++) {
    const m = await sqlUser('mentor');
    const r = await api('PUT', '/api/v1/mentor/profile', { token: m.access, body: {
      name: names[i], time_zone: 'Europe/Berlin', skills: ['go', `skill${i}`], tags: ['searchtest'],
      years_experience: 5 + i, price_cents: i * 1000 } });
    assert.strictEqual(r.status, 200);
  }
  let r = await api('GET', '/api/v1/mentors?name=Bartolomew%20Quil');
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.items[0].name, 'Bartholomew Quill');
  r = await api('GET', '/api/v1/mentors?tag=searchtest&free=true');
  assert.deepStrictEqual(r.body.items.map((x) => x.name), ['Alexandra Fernsby']);
  r = await api('GET', '/api/v1/mentors?tag=searchtest&min_experience=6&sort=experience');
  assert.deepStrictEqual(r.body.items.map((x) => x.name), ['Cordelia Winthrop', 'Bartholomew Quill']);
  const seen = [];
  let cursor = null;
  do {
    r = await api('GET', `/api/v1/mentors?tag=searchtest&sort=price&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.strictEqual(r.status, 200);
    seen.push(...r.body.items.map((x) => x.price_cents));
    cursor = r.body.next_cursor;
  } while (cursor);
  assert.deepStrictEqual(seen, [0, 1000, 2000]);
  // relevance by name, one per page: nearest first, no repeats, cursor bound to its sort
  const ids = [];
  cursor = null;
  do {
    r = await api('GET', `/api/v1/mentors?name=Cordelia%20Winthorp&tag=searchtest&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.strictEqual(r.status, 200);
    ids.push(...r.body.items.map((x) => x.id));
    cursor = r.body.next_cursor;
    if (cursor && ids.length === 1) {
      const other = await api('GET', `/api/v1/mentors?sort=price&cursor=${cursor}`);
      assert.strictEqual(other.status, 400);
    }
  } while (cursor);
  assert.ok(ids.length >= 1);
  assert.strictEqual(new Set(ids).size, ids.length);
  r = await api('GET', `/api/v1/mentors?skill=rust&available_from=${iso(Date.now() + 48 * H)}&available_to=${iso(Date.now() + 96 * H)}`.replace(/:/g, '%3A'));
  assert.strictEqual(r.status, 200);
  assert.ok(r.body.items.some((x) => x.id === mentor.id));
});

test('cancel policy, agenda, join tokens, reviews and notifications', async () => {
  // a session starting in 5 minutes (1-minute notice, slots every 5 minutes)
  const m = await makeMentor('UTC', allDays('00:00', '24:00'), { title: 'soon', duration_min: 5 });
  const near = await slots(m.type.id, iso(Date.now()), iso(Date.now() + 15 * 60000));
  const u = await sqlUser();
  const other = await sqlUser();
  let r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: m.type.id, start: near[1].start } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  const b = r.body;
  r = await api('PUT', `/api/v1/bookings/${b.id}/agenda`, { token: u.access, body: { agenda: 'Talk about\nlifetimes' } });
  assert.strictEqual(r.status, 200);
  r = await api('GET', `/api/v1/bookings/${b.id}`, { token: m.access });
  assert.strictEqual(r.body.agenda, 'Talk about\nlifetimes');
  r = await api('PUT', `/api/v1/bookings/${b.id}/agenda`, { token: m.access, body: { agenda: 'x' } });
  assert.strictEqual(r.status, 403);
  assert.strictEqual((await api('GET', `/api/v1/bookings/${b.id}`, { token: other.access })).status, 404);
  // join: mentor publishes, mentee subscribes, others refused
  r = await api('POST', `/api/v1/sessions/${b.session_id}/join`, { token: m.access });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.strictEqual(r.body.role, 'publish');
  const claims = JSON.parse(Buffer.from(r.body.room_token.split('.')[1], 'base64url'));
  assert.strictEqual(claims.sid, b.session_id);
  assert.strictEqual(claims.sub, m.id);
  assert.ok(claims.exp - claims.iat <= 300);
  r = await api('POST', `/api/v1/sessions/${b.session_id}/join`, { token: u.access });
  assert.strictEqual(r.body.role, 'subscribe');
  // the SFU admits the mentee with that token to this session's room only
  const ws = await new SigClient(d.wsUrl).open();
  ws.send({ type: 'join', mode: 'room', room: String(b.session_id + 1), token: r.body.room_token });
  const refused = await ws.next();
  assert.strictEqual(refused.code, 'unauthorized', JSON.stringify(refused));
  ws.send({ type: 'join', mode: 'room', room: String(b.session_id), token: r.body.room_token });
  const admitted = await ws.next();
  assert.strictEqual(admitted.type, 'joined', JSON.stringify(admitted));
  assert.strictEqual(admitted.role, 'mentee');
  ws.ws.close();
  r = await api('POST', `/api/v1/sessions/${b.session_id}/join`, { token: other.access });
  assert.strictEqual(r.status, 403);
  // reviews: not before the end, not by a non-attendee
  r = await api('POST', `/api/v1/bookings/${b.id}/review`, { token: other.access, body: { rating: 5 } });
  assert.strictEqual(r.status, 403);
  r = await api('POST', `/api/v1/sessions/${b.session_id}/start`, { token: m.access });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  r = await api('POST', `/api/v1/sessions/${b.session_id}/end`, { token: m.access });
  assert.strictEqual(r.status, 200);
  r = await api('POST', `/api/v1/bookings/${b.id}/review`, { token: u.access, body: { rating: 6 } });
  assert.strictEqual(r.status, 422);
  r = await api('POST', `/api/v1/bookings/${b.id}/review`, { token: u.access, body: { rating: 4, body: 'Helpful' } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  r = await api('POST', `/api/v1/bookings/${b.id}/review`, { token: u.access, body: { rating: 5 } });
  assert.strictEqual(r.status, 409);
  const reviewId = (await api('GET', `/api/v1/mentors/${m.id}/reviews`)).body.items[0].id;
  r = await api('POST', `/api/v1/reviews/${reviewId}/reply`, { token: m.access, body: { reply: 'Thanks!' } });
  assert.strictEqual(r.status, 200);
  r = await api('GET', `/api/v1/mentors/${m.id}`);
  assert.strictEqual(r.body.rating_count, 1);
  assert.strictEqual(Number(r.body.rating_avg), 4);
  // cancellation policy: mentee late cancel (paid) -> no refund; early -> full; mentor -> full
  const paid = await makeMentor('UTC', allDays('00:00', '24:00'), { title: 'paid', duration_min: 30, price_cents: 5000 });
  const soon = await slots(paid.type.id, iso(Date.now() + 2 * H), iso(Date.now() + 4 * H));
  const later = await slots(paid.type.id, iso(Date.now() + 72 * H), iso(Date.now() + 80 * H));
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: paid.type.id, start: soon[0].start } });
  assert.strictEqual(r.status, 201);
  assert.strictEqual(r.body.status, 'held');
  const heldId = r.body.id;
  await d.sql(`SELECT booking_confirm(${heldId})`); // what payments will do (ctl_booking_confirm_on_payment)
  r = await api('POST', `/api/v1/bookings/${heldId}/cancel`, { token: u.access });
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.refund, 'none');
  // the cancellation is in the audit log: who, what, from where
  const audit = await d.sql(`SELECT actor_user_id || ' ' || actor_role || ' ' || (remote_addr IS NOT NULL) FROM audit_log WHERE action = 'booking.cancelled' AND target_type = 'booking' AND target_id = '${heldId}'`);
  assert.strictEqual(audit, `${u.id} mentee true`);
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: paid.type.id, start: later[0].start } });
  await d.sql(`SELECT booking_confirm(${r.body.id})`);
  r = await api('POST', `/api/v1/bookings/${r.body.id}/cancel`, { token: u.access });
  assert.strictEqual(r.body.refund, 'full');
  r = await api('POST', '/api/v1/bookings', { token: other.access, body: { session_type_id: paid.type.id, start: later[1].start } });
  r = await api('POST', `/api/v1/bookings/${r.body.id}/cancel`, { token: paid.access });
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.cancelled_by, 'mentor');
  assert.strictEqual(r.body.refund, 'full');
  // expired hold: released lazily, slot bookable again
  r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: paid.type.id, start: later[2].start } });
  assert.strictEqual(r.body.status, 'held');
  await d.sql(`UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = ${r.body.id}`);
  r = await api('POST', '/api/v1/bookings', { token: other.access, body: { session_type_id: paid.type.id, start: later[2].start } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  // notifications and the confirmation email with an invitation
  r = await api('GET', '/api/v1/notifications', { token: u.access });
  assert.ok(r.body.items.some((x) => x.kind === 'booking.confirmed'));
  r = await api('GET', '/api/v1/notifications', { token: m.access });
  assert.ok(r.body.items.some((x) => x.kind === 'booking.new'));
  const mail = await d.sink.waitFor((x) => x.to.includes(u.email) && /Booked/.test(x.subject), 15000);
  const ics = mail.attachments.find((x) => /calendar/.test(x.contentType || x.type || '') || /\.ics$/.test(x.filename || ''));
  assert.ok(ics, JSON.stringify(mail.attachments.map((x) => x.filename)));
  const icsText = (ics.data || ics.content || ics.body).toString();
  assert.match(icsText, /^BEGIN:VCALENDAR\r\n/);
  assert.match(icsText, /DTSTART:\d{8}T\d{6}Z\r\n/);
  // reminders: cancelled bookings lose theirs; a due one notifies in-app and by email
  const cancelledLive = await d.sql(`SELECT count(*) FROM jobs j JOIN bookings b ON b.id = (j.payload->>'booking_id')::bigint WHERE j.kind = 'booking.reminder' AND j.state = 'queued' AND b.status <> 'confirmed'`);
  assert.strictEqual(cancelledLive, '0');
  const job = await d.sql(`SELECT id || ' ' || (payload->>'booking_id') FROM jobs WHERE kind = 'booking.reminder' AND state = 'queued' AND payload->>'kind' = '24h' ORDER BY id LIMIT 1`);
  assert.ok(job, 'a queued 24 h reminder');
  const [jobId, remBooking] = job.split(' ');
  await d.sql(`UPDATE jobs SET run_at = now() WHERE id = ${jobId}`);
  let note = '';
  for (let i = 0; i < 100 && !note; i++) {
    note = await d.sql(`SELECT kind FROM notifications WHERE booking_id = ${remBooking} AND kind = 'reminder.24h'`);
    if (!note) await new Promise((res) => setTimeout(res, 100));
  }
  assert.strictEqual(note, 'reminder.24h');
  assert.strictEqual(await d.sql(`SELECT state FROM jobs WHERE id = ${jobId}`), 'done');
  await d.sink.waitFor((x) => /Reminder:/.test(x.subject), 15000);
});
