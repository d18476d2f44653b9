// Booking under database contention, with the test holding real row locks
// on its own PostgreSQL connection (lib/pgsession.js):
//  - a seat's session row locked by someone else: the booking answers 503
//    "database-busy" with Retry-After and SQLSTATE 55P03 after about
//    db_lock_timeout_ms (it does not hang), stores nothing, and succeeds
//    once the lock is gone;
//  - a real deadlock between the daemon's booking and the test's
//    transaction (PostgreSQL aborts the daemon's side with 40P01): the
//    daemon runs the whole booking transaction again and answers 201;
//  - a payment whose booking row is locked answers 503 (55P03) and its
//    Idempotency-Key still works once the lock is gone.
// The 50-parallel races stay exact in booking_core.test.js.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');
const { pgSession } = require('./lib/pgsession');
const { sleep } = require('./lib/servers');

const LOCK_MS = 2000;
const H = 3600 * 1000;
let d, key;

const api = (method, path, opts) => A.api(d, method, path, opts);
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const sqlUser = (role = 'mentee', name = 'Contender') => A.sqlUser(d, key, { role, name, tag: 'bc' });

// A mentor with a group session type of capacity 5; the first bookable
// slot is booked once so that its session row exists. Returns what the
// tests need to lock it.
async function groupSlot(title) {
  const m = await sqlUser('mentor', 'Mentor');
  await A.setupMentor(d, m, { profile: { name: `Mentor ${m.id}`, time_zone: 'UTC', price_cents: 0 },
    rules: A.everyDay('09:00', '11:00'), type: { title, duration_min: 60, capacity: 5, horizon_days: 30 } });
  const r = await api('GET', `/api/v1/session-types/${m.type.id}/slots?from=${iso(Date.now() + 48 * H)}&to=${iso(Date.now() + 96 * H)}`);
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  const start = r.body.slots[0].start;
  const first = await sqlUser();
  const b = await api('POST', '/api/v1/bookings', { token: first.access, body: { session_type_id: m.type.id, start } });
  assert.strictEqual(b.status, 201, JSON.stringify(b.body));
  const sessionId = Number(await d.sql(`SELECT session_id FROM bookings WHERE id = ${b.body.id}`));
  return { typeId: m.type.id, start, sessionId };
}

const seats = async (sessionId) => d.sql(`SELECT seats_taken || '/' || (SELECT count(*) FROM bookings WHERE session_id = ${sessionId} AND status IN ('held', 'confirmed')) FROM sessions WHERE id = ${sessionId}`);

test.before(async () => {
  d = await A.startAuthDaemon({ db_lock_timeout_ms: LOCK_MS });
  await A.userWithRole(d, 'mentee'); // makes the signing key
  key = await A.signingKey(d);
});
test.after(async () => { if (d) await d.stop(); });

test('a locked session row: 503 + Retry-After after the lock timeout, then the booking succeeds', { timeout: 120000 }, async () => {
  const slot = await groupSlot('locked');
  const u = await sqlUser();
  const holder = await pgSession(d.db.name);
  // Without a lock timeout the booking would wait for this lock: release
  // it after 30 s at the latest so that such a daemon fails the asserts
  // below instead of hanging the test.
  let released = false;
  const release = async () => { if (!released) { released = true; await holder.run('ROLLBACK;'); } };
  try {
    assert.strictEqual(await holder.run(`BEGIN; SELECT id FROM sessions WHERE id = ${slot.sessionId} FOR UPDATE;`), String(slot.sessionId));
    const guard = setTimeout(release, 30000);
    const t0 = Date.now();
    const r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: slot.typeId, start: slot.start } });
    const took = Date.now() - t0;
    clearTimeout(guard);
    assert.strictEqual(r.status, 503, `${r.status} ${JSON.stringify(r.body)} after ${took} ms`);
    console.log('booking behind a row lock', JSON.stringify({ lock_timeout_ms: LOCK_MS, answered_ms: took }));
    assert.match(r.headers.get('content-type'), /problem\+json/);
    assert.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
    assert.match(r.body.type, /database-busy$/);
    assert.strictEqual(r.body.sqlstate, '55P03');
    assert.match(r.body.detail, /lock timeout/);
    assert.ok(took >= LOCK_MS * 0.9, `answered after ${took} ms, before the lock timeout`);
    assert.ok(took < LOCK_MS + 20000, `answered after ${took} ms`);
    assert.match(d.logs(), /SQLSTATE 55P03/, 'the SQLSTATE is logged');
    // nothing was stored for u while the lock was held
    assert.strictEqual(await d.sql(`SELECT count(*) FROM bookings WHERE mentee_id = ${u.id}`), '0');
    await release();
    const again = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: slot.typeId, start: slot.start } });
    assert.strictEqual(again.status, 201, JSON.stringify(again.body));
    assert.strictEqual(again.body.status, 'confirmed');
    assert.strictEqual(await seats(slot.sessionId), '2/2');
  } finally {
    await release().catch(() => {});
    await holder.close();
  }
});

test('a deadlock with another transaction: the booking transaction runs again and succeeds', { timeout: 120000 }, async () => {
  const slot = await groupSlot('deadlock');
  const u = await sqlUser();
  const holder = await pgSession(d.db.name);
  try {
    // The test's side never runs the deadlock check itself (60 s), so
    // PostgreSQL's check in the daemon's backend (deadlock_timeout, 1 s)
    // finds the cycle and aborts the daemon's transaction with 40P01.
    await holder.run("SET deadlock_timeout = '60s';");
    await holder.run(`BEGIN; SELECT id FROM sessions WHERE id = ${slot.sessionId} FOR UPDATE;`);
    const logStart = d.logs().length;
    // The daemon inserts u's booking, then waits for the session row
    // (the seats trigger updates it).
    const booking = api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: slot.typeId, start: slot.start } });
    // Once it waits, the test wants the same seat: it waits for the
    // daemon's uncommitted booking row (one seat per mentee), closing the
    // cycle. Watching and inserting happen in one round trip on the
    // server, well within the daemon's 1 s deadlock_timeout.
    const seen = await holder.run(`DO $$ BEGIN
      FOR i IN 1..3000 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
          AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%booking_take_seat%');
        PERFORM pg_sleep(0.01);
      END LOOP;
    END $$;
    SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock';
    INSERT INTO bookings (session_id, mentee_id, status) VALUES (${slot.sessionId}, ${u.id}, 'confirmed');`);
    assert.strictEqual(seen, '1', 'the daemon waited for the locked session row');
    // The daemon's first attempt died of the deadlock, so the test's
    // insert went through; give the seat back and let the retry take it.
    assert.doesNotMatch(holder.errors(), /deadlock detected/, 'the daemon, not the test, was the victim');
    await holder.run('ROLLBACK;');
    const r = await booking;
    assert.strictEqual(r.status, 201, JSON.stringify(r.body));
    assert.strictEqual(r.body.status, 'confirmed');
    const logs = d.logs().slice(logStart);
    assert.match(logs, /SQLSTATE 40P01 on attempt 1 of \d+, running it again/, logs);
    assert.strictEqual(await d.sql(`SELECT count(*) FROM bookings WHERE mentee_id = ${u.id} AND status = 'confirmed'`), '1');
    assert.strictEqual(await seats(slot.sessionId), '2/2');
    // exactly one confirmation email job for the retried booking
    await sleep(200);
    assert.strictEqual(await d.sql(`SELECT count(*) FROM notifications WHERE user_id = ${u.id} AND booking_id = ${r.body.id}`), '1');
  } finally {
    await holder.close();
  }
});

test('paying while the booking row is locked: 503 + Retry-After, the Idempotency-Key stays usable', { timeout: 120000 }, async () => {
  const m = await sqlUser('mentor', 'Mentor');
  await A.setupMentor(d, m, { profile: { name: `Mentor ${m.id}`, time_zone: 'UTC', price_cents: 5000 },
    rules: A.everyDay('13:00', '15:00'), type: { title: 'paid', duration_min: 60, price_cents: 5000, horizon_days: 30 } });
  const sl = await api('GET', `/api/v1/session-types/${m.type.id}/slots?from=${iso(Date.now() + 48 * H)}&to=${iso(Date.now() + 96 * H)}`);
  const u = await sqlUser();
  const b = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: m.type.id, start: sl.body.slots[0].start } });
  assert.strictEqual(b.status, 201, JSON.stringify(b.body));
  assert.strictEqual(b.body.status, 'held');
  const holder = await pgSession(d.db.name);
  const pay = () => api('POST', `/api/v1/bookings/${b.body.id}/pay`, { token: u.access,
    body: { method: 'credits' }, headers: { 'idempotency-key': `lock-${b.body.id}` } });
  let released = false;
  const release = async () => { if (!released) { released = true; await holder.run('ROLLBACK;'); } };
  try {
    await holder.run(`BEGIN; SELECT id FROM bookings WHERE id = ${b.body.id} FOR UPDATE;`);
    const guard = setTimeout(release, 30000);
    const r = await pay();
    clearTimeout(guard);
    assert.strictEqual(r.status, 503, JSON.stringify(r.body));
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.strictEqual(r.body.sqlstate, '55P03');
    assert.strictEqual(await d.sql(`SELECT count(*) FROM payments WHERE booking_id = ${b.body.id}`), '0');
    await release();
    // The 503 did not burn the key: the same request now gets its real answer.
    const again = await pay();
    assert.strictEqual(again.status, 402, JSON.stringify(again.body));
    assert.match(again.body.type, /insufficient-credits$/);
  } finally {
    await release().catch(() => {});
    await holder.close();
  }
});
