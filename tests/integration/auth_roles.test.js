// Roles over every route, table-driven from `mentorlink routes`:
// unauthenticated -> 401 on every non-public route; a mentee -> 403 on
// mentor and admin routes; a mentor -> 403 on admin routes. Then the admin
// routes themselves (search, pagination, role change, disable, audit) and
// the bootstrap admin.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');
const { runCommand } = require('./lib/daemon');

let d, routes;
test.before(async () => {
  d = await A.startAuthDaemon({ bootstrap_admin_email: 'boss@example.com' });
  const r = await runCommand(['routes']);
  routes = r.stdout.trim().split('\n').map((l) => {
    const [method, pattern, perm] = l.split(' ');
    return { method, path: pattern.replace(/\{[^}]+\}/g, '1'), pattern, perm };
  });
});
test.after(async () => { if (d) await d.stop(); });

const call = (r, token) => A.api(d, r.method, r.path, { token, body: r.method === 'GET' ? undefined : {} });

test('unauthenticated: 401 on every non-public route', async () => {
  const prot = routes.filter((r) => r.perm !== 'public');
  assert.ok(prot.length >= 5);
  for (const r of prot) {
    const res = await call(r);
    assert.strictEqual(res.status, 401, `${r.method} ${r.pattern}`);
    const bad = await call(r, 'garbage.token.here');
    assert.strictEqual(bad.status, 401, `${r.method} ${r.pattern} with a bad token`);
  }
});

test('mentee: 403 on mentor and admin routes; mentor: 403 on admin routes', async () => {
  const mentee = await A.userWithRole(d, 'mentee');
  const mentor = await A.userWithRole(d, 'mentor');
  let checked = 0;
  for (const r of routes) {
    if (r.perm === 'mentor' || r.perm === 'admin') {
      assert.strictEqual((await call(r, mentee.access)).status, 403, `mentee ${r.method} ${r.pattern}`);
      checked++;
    }
    if (r.perm === 'admin') assert.strictEqual((await call(r, mentor.access)).status, 403, `mentor ${r.method} ${r.pattern}`);
  }
  assert.ok(checked >= 3);
  // and a mentee is not refused by the permission layer on user routes
  const u = routes.find((r) => r.perm === 'user' && r.method === 'GET');
  assert.notStrictEqual((await call(u, mentee.access)).status, 403);
});

test('admin: list with search and cursor pagination', async () => {
  const admin = await A.userWithRole(d, 'admin');
  for (let i = 0; i < 3; i++) await A.signup(d, { email: A.uniqueEmail('pagesearch') });
  const all = await A.api(d, 'GET', '/api/v1/admin/users', { token: admin.access });
  assert.strictEqual(all.status, 200);
  const total = all.body.items.length;
  assert.ok(total >= 4 && total < 20);
  const found = await A.api(d, 'GET', '/api/v1/admin/users?email=PAGESEARCH', { token: admin.access });
  assert.strictEqual(found.status, 200);
  assert.strictEqual(found.body.items.length, 3);
  for (const u of found.body.items) assert.ok(!('password_hash' in u));
  const page1 = await A.api(d, 'GET', '/api/v1/admin/users?limit=2', { token: admin.access });
  assert.strictEqual(page1.status, 200);
  assert.strictEqual(page1.body.items.length, 2);
  assert.ok(page1.body.next_cursor);
  const page2 = await A.api(d, 'GET', `/api/v1/admin/users?cursor=${encodeURIComponent(page1.body.next_cursor)}`, { token: admin.access });
  assert.strictEqual(page2.status, 200);
  assert.strictEqual(page2.body.items.length, total - 2);
  assert.strictEqual(page2.body.next_cursor, null);
  const ids = [...page1.body.items, ...page2.body.items].map((u) => u.id);
  assert.deepStrictEqual(ids, all.body.items.map((u) => u.id));
  // LIKE metacharacters are literal ('_' would match any character)
  const pct = await A.api(d, 'GET', '/api/v1/admin/users?email=_', { token: admin.access });
  assert.strictEqual(pct.status, 200);
  assert.strictEqual(pct.body.items.length, 0);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users?cursor=forged', { token: admin.access })).status, 400);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users?role=root', { token: admin.access })).status, 400);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users?limit=1000', { token: admin.access })).status, 400);
});

// Several query parameters at once need signaling/http.c to join lws' URI
// argument fragments with '&' (it currently concatenates them).
test('admin: search and pagination combined', async () => {
  const admin = await A.userWithRole(d, 'admin');
  const page1 = await A.api(d, 'GET', '/api/v1/admin/users?email=pagesearch&limit=2', { token: admin.access });
  assert.strictEqual(page1.status, 200);
  assert.strictEqual(page1.body.items.length, 2);
  const page2 = await A.api(d, 'GET', `/api/v1/admin/users?email=pagesearch&limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`, { token: admin.access });
  assert.strictEqual(page2.body.items.length, 1);
});

test('admin: role change and disable are audited; disabling kills live tokens', async () => {
  const admin = await A.userWithRole(d, 'admin');
  const v = await A.signup(d);
  const promote = await A.api(d, 'PATCH', `/api/v1/admin/users/${v.user.id}`, { token: admin.access, body: { role: 'mentor' } });
  assert.strictEqual(promote.status, 200);
  assert.strictEqual(promote.body.role, 'mentor');
  assert.strictEqual(await d.sql(`SELECT details->>'from' || '>' || (details->>'to') FROM audit_log WHERE action = 'user.role_changed' AND target_id = '${v.user.id}'`), 'mentee>mentor');
  const dis = await A.api(d, 'PATCH', `/api/v1/admin/users/${v.user.id}`, { token: admin.access, body: { disabled: true } });
  assert.strictEqual(dis.status, 200);
  assert.strictEqual(dis.body.disabled, true);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/me', { token: v.access })).status, 401);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/refresh', { session: v })).status, 401);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM audit_log WHERE action = 'user.disabled' AND target_id = '${v.user.id}' AND actor_user_id = ${admin.user.id}`), '1');
  // bad input and unknown ids
  const bads = [
    [{ role: 'root' }, 422], [{ disabled: 'yes' }, 422], [{}, 422], [{ role: 'mentor', extra: 1 }, 422],
  ];
  for (const [body, want] of bads) {
    assert.strictEqual((await A.api(d, 'PATCH', `/api/v1/admin/users/${v.user.id}`, { token: admin.access, body })).status, want, JSON.stringify(body));
  }
  assert.strictEqual((await A.api(d, 'PATCH', '/api/v1/admin/users/999999', { token: admin.access, body: { role: 'mentor' } })).status, 404);
  assert.strictEqual((await A.api(d, 'PATCH', '/api/v1/admin/users/abc', { token: admin.access, body: { role: 'mentor' } })).status, 404);
  // admins cannot lock themselves out
  assert.strictEqual((await A.api(d, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, { token: admin.access, body: { disabled: true } })).status, 409);
  assert.strictEqual((await A.api(d, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, { token: admin.access, body: { role: 'mentee' } })).status, 409);
});

test('bootstrap_admin_email: becomes admin on sign-in only while no admin exists', async () => {
  // admins exist already (previous tests): no promotion
  const s = await A.signup(d, { email: 'boss@example.com' });
  assert.strictEqual(s.user.role, 'mentee');
  await d.sql("UPDATE users SET role = 'mentee' WHERE role = 'admin'");
  const r = await A.login(d, 'boss@example.com', s.password);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.user.role, 'admin');
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users', { token: r.body.access_token })).status, 200);
  assert.strictEqual(await d.sql("SELECT details->>'reason' FROM audit_log WHERE action = 'user.role_changed' ORDER BY id DESC LIMIT 1"), 'bootstrap_admin_email');
});
