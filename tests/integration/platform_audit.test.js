// The audit log: GET /api/v1/admin/audit is admin-only (401 without a
// token, 403 for other roles), filters by actor, action (exact or prefix),
// target and time range, pages with opaque cursors, refuses bad query
// parameters with 400, and the table itself refuses UPDATE, DELETE and
// TRUNCATE. Admin tokens come from the accounts API (lib/auth.js).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d, admin, mentee;
const T = `t${process.pid}`;
test.before(async () => {
  d = await A.startAuthDaemon();
  admin = await A.userWithRole(d, 'admin');
  mentee = await A.userWithRole(d, 'mentee');
  // 12 entries by two actors, three actions, two targets, over 12 hours.
  const rows = [];
  for (let i = 0; i < 12; i++) {
    const actor = i % 2 ? 900002 : 900001;
    const action = ['booking.created', 'booking.cancelled', 'user.role_changed'][i % 3];
    const target = i % 4 === 0 ? `('booking', '${T}-a')` : `('booking', '${T}-b')`;
    rows.push(`(timestamptz '2030-01-01T00:00:00Z' + interval '${i} hours', ${actor}, 'admin', '${action}',
      ${target.slice(1, -1)}, '10.0.0.${i}', 'req${i}', '{"i": ${i}, "tag": "${T}"}')`);
  }
  await d.sql(`INSERT INTO audit_log (at, actor_user_id, actor_role, action, target_type, target_id,
    remote_addr, request_id, details) VALUES ${rows.join(',')}`);
});
test.after(async () => { if (d) await d.stop(); });

const get = (q, token = admin.access) => A.api(d, 'GET', `/api/v1/admin/audit${q}`, { token });
const ids = (r) => r.body.items.map((x) => x.details.i);

test('admin only: 401 without or with a bad token, 403 for a mentee', async () => {
  const none = await get('', null);
  assert.strictEqual(none.status, 401);
  assert.strictEqual(none.headers.get('content-type'), 'application/problem+json');
  assert.strictEqual((await get('', 'not.a.token')).status, 401);
  assert.strictEqual((await get('', mentee.access)).status, 403);
  assert.strictEqual((await get('')).status, 200);
});

test('entries have every field; newest first', async (t) => {
  const r = await get(`?actor=900001&limit=100`);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.headers.get('cache-control'), 'no-store');
  assert.deepStrictEqual(ids(r), [10, 8, 6, 4, 2, 0]);
  const e = r.body.items[0];
  assert.deepStrictEqual(Object.keys(e).sort(), ['action', 'actor_role', 'actor_user_id', 'at', 'details',
    'id', 'remote_addr', 'request_id', 'target_id', 'target_type']);
  assert.strictEqual(e.at, '2030-01-01T10:00:00.000000Z');
  assert.strictEqual(e.actor_user_id, 900001);
  assert.strictEqual(e.remote_addr, '10.0.0.10');
  assert.strictEqual(e.request_id, 'req10');
  assert.strictEqual(r.body.next_cursor, null);
});

test('filters: action exact and prefix, target, time range, combined', async (t) => {
  assert.deepStrictEqual(ids(await get(`?action=booking.cancelled&target_type=booking&limit=100&since=2030-01-01T00:00:00Z`)),
    [10, 7, 4, 1]);
  assert.deepStrictEqual(ids(await get(`?action=booking.*&actor=900002&since=2030-01-01T00:00:00Z`)), [9, 7, 3, 1]);
  assert.deepStrictEqual(ids(await get(`?target_id=${T}-a`)), [8, 4, 0]);
  assert.deepStrictEqual(ids(await get(`?since=2030-01-01T03:00:00Z&until=2030-01-01T06:00:00%2B00:00&actor=900001`)), [4]);
  assert.deepStrictEqual(ids(await get(`?since=2030-01-01T05:30:00%2B02:00&until=2030-01-01T05:00:00Z`)), [4]);
  assert.deepStrictEqual(ids(await get(`?action=user.*&target_id=${T}-a`)), [8]);
  assert.deepStrictEqual(ids(await get(`?action=nothing.here`)), []);
});

test('cursor pagination walks every entry once, then stops', async (t) => {
  const seen = [];
  let q = `?actor=900002&limit=2`;
  for (let pages = 0; pages < 10; pages++) {
    const r = await get(q);
    assert.strictEqual(r.status, 200);
    seen.push(...ids(r));
    if (!r.body.next_cursor) break;
    assert.ok(r.body.items.length === 2);
    q = `?actor=900002&limit=2&cursor=${encodeURIComponent(r.body.next_cursor)}`;
  }
  assert.deepStrictEqual(seen, [11, 9, 7, 5, 3, 1]);
});

test('400 for bad parameters: limit, cursor, unknown names, malformed values', async (t) => {
  const first = await get(`?actor=900002&limit=2`);
  const cur = first.body.next_cursor;
  const tampered = cur.slice(0, -2) + (cur.endsWith('AA') ? 'BB' : 'AA');
  const bad = ['?limit=0', '?limit=-1', '?limit=101', '?limit=1e3', '?limit=abc', '?limit=99999999999999999999',
    `?cursor=${tampered}`, '?cursor=garbage', `?cursor=${cur}x`, '?bogus=1', '?actor=abc', '?actor=-1',
    '?actor=1%27%20OR%201=1', "?action=user.login'--", '?action=*', '?action=USER.LOGIN', '?target_type=Booking',
    '?since=yesterday', '?until=2030-01-01', '?since=2030-02-30T00:00:00Z', '?target_id=%01'];
  // (Malformed %-escapes never reach the handler: the front door refuses them.)
  for (const q of bad) {
    const r = await get(q);
    assert.strictEqual(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
    assert.strictEqual(r.body.type, 'https://mentorlink.dev/problems/invalid-parameter');
  }
  const unknown = await get('?bogus=1');
  assert.match(unknown.body.detail, /unknown query parameter 'bogus'/);
});

test('SQL metacharacters in filters are plain values', async (t) => {
  for (const v of ["x' OR '1'='1", "'; DELETE FROM audit_log; --", '%', '_']) {
    const r = await get(`?target_id=${encodeURIComponent(v)}`);
    assert.strictEqual(r.status, 200);
    assert.deepStrictEqual(r.body.items, []);
  }
  assert.strictEqual(await d.sql(`SELECT count(*) FROM audit_log WHERE details->>'tag' = '${T}'`), '12');
});

test('the audit table is append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
  for (const stmt of ["UPDATE audit_log SET action = 'x.y'", 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
    await assert.rejects(d.sql(stmt), /audit_log is append-only/, stmt);
  }
  assert.strictEqual(await d.sql(`SELECT count(*) FROM audit_log WHERE details->>'tag' = '${T}'`), '12');
});

test('a contact message shows up in the log as an anonymous action', async (t) => {
  const r = await A.api(d, 'POST', '/api/v1/contact', {
    body: { name: 'Ann', email: 'ann@example.com', subject: 'Audit me', message: 'Hi' },
  });
  assert.strictEqual(r.status, 202);
  const l = await get('?action=contact.message&limit=1');
  assert.strictEqual(l.body.items.length, 1);
  const e = l.body.items[0];
  assert.strictEqual(e.actor_role, 'anonymous');
  assert.strictEqual(e.actor_user_id, null);
  assert.strictEqual(e.target_type, 'email');
  assert.strictEqual(e.details.reply_to, 'ann@example.com');
  assert.match(e.request_id, /^[0-9a-f]+$/);
});
