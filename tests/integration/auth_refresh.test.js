// Refresh tokens (RFC 9700): rotation on every use, reuse of a spent token
// revokes the whole family, concurrent use of one token gives exactly one
// success, CSRF header + Origin required, logout and password change
// revoke; cookie attributes.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d;
test.before(async () => { d = await A.startAuthDaemon(); });
test.after(async () => { if (d) await d.stop(); });

const refresh = (session, opts = {}) => A.api(d, 'POST', '/api/v1/auth/refresh', { session, ...opts });

test('cookies: HttpOnly, Secure, SameSite=Strict, Path=/api/v1/auth; stored hashed', async () => {
  const s = await A.signup(d);
  const r = await A.login(d, s.email, s.password);
  const c = r.cookies.ml_refresh.raw;
  for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/api/v1/auth']) assert.ok(c.includes(attr), `${attr} in ${c}`);
  assert.ok(r.cookies.ml_csrf.raw.includes('SameSite=Strict'));
  assert.ok(!r.cookies.ml_csrf.raw.includes('HttpOnly'));
  assert.strictEqual(r.cookies.ml_csrf.value, r.body.csrf_token);
  const token = r.cookies.ml_refresh.value;
  assert.strictEqual(await d.sql(`SELECT count(*) FROM refresh_tokens WHERE token_hash = decode('${Buffer.from(token).toString('hex')}', 'hex')`), '0');
  assert.strictEqual(await d.sql(`SELECT count(*) FROM refresh_tokens WHERE token_hash = sha256('${token}'::bytea)`), '1');
});

test('each refresh rotates; the new token works, the access token is fresh', async () => {
  let s = await A.signup(d);
  for (let i = 0; i < 3; i++) {
    const r = await refresh(s);
    assert.strictEqual(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.cookies.ml_refresh.value && r.cookies.ml_refresh.value !== s.refresh);
    assert.strictEqual((await A.api(d, 'GET', '/api/v1/me', { token: r.body.access_token })).status, 200);
    s = { ...s, refresh: r.cookies.ml_refresh.value, access: r.body.access_token };
  }
});

test('a stolen token replayed after rotation revokes the family; the holder is out too', async () => {
  const s = await A.signup(d);
  const stolen = { ...s };
  const r1 = await refresh(s); // legitimate rotation
  assert.strictEqual(r1.status, 200);
  const legit = { ...s, refresh: r1.cookies.ml_refresh.value };
  const replay = await refresh(stolen); // the thief replays the spent token
  assert.strictEqual(replay.status, 401);
  assert.match(replay.body.detail, /already used/);
  const next = await refresh(legit); // the legitimate holder is out as well
  assert.strictEqual(next.status, 401);
  assert.strictEqual(await d.sql(`SELECT revoke_reason FROM refresh_families WHERE user_id = ${s.user.id} ORDER BY id DESC LIMIT 1`), 'reuse');
  assert.ok(Number(await d.sql(`SELECT count(*) FROM audit_log WHERE action = 'auth.family_revoked'`)) >= 1);
  // other sign-ins of the same user are not affected
  const other = A.sessionOf(await A.login(d, s.email, s.password));
  assert.strictEqual((await refresh(other)).status, 200);
});

test('two concurrent refreshes with one token: exactly one succeeds', async () => {
  for (let round = 0; round < 3; round++) {
    const s = await A.signup(d);
    const rs = await Promise.all([refresh(s), refresh(s), refresh(s)]);
    const ok = rs.filter((r) => r.status === 200).length;
    assert.strictEqual(ok, 1, rs.map((r) => r.status).join(','));
    assert.ok(rs.every((r) => r.status === 200 || r.status === 401));
  }
});

test('CSRF header and Origin are required; nothing changes when they are wrong', async () => {
  const s = await A.signup(d);
  assert.strictEqual((await refresh(s, { headers: { 'x-csrf-token': '' } })).status, 403);
  assert.strictEqual((await refresh(s, { headers: { 'x-csrf-token': 'wrong' } })).status, 403);
  assert.strictEqual((await refresh(s, { headers: { origin: 'https://evil.example' } })).status, 403);
  assert.strictEqual((await refresh(s, { headers: { origin: '' } })).status, 403);
  assert.strictEqual((await refresh(s, { headers: { origin: 'null' } })).status, 403);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/logout', { session: s, headers: { 'x-csrf-token': 'wrong' } })).status, 403);
  // the CSRF token of another session does not fit this one
  const other = await A.signup(d);
  assert.strictEqual((await refresh({ ...s, csrf: other.csrf })).status, 403);
  // after all that, the token was neither rotated nor revoked
  assert.strictEqual((await refresh(s)).status, 200);
});

test('no cookie: 401', async () => {
  const s = await A.signup(d);
  assert.strictEqual((await refresh({ csrf: s.csrf }, { headers: { origin: d.baseUrl, cookie: 'other=1' } })).status, 401);
});

test('logout revokes the family and clears the cookies', async () => {
  const s = await A.signup(d);
  const r = await A.api(d, 'POST', '/api/v1/auth/logout', { session: s });
  assert.strictEqual(r.status, 204);
  assert.match(r.cookies.ml_refresh.raw, /Max-Age=0/);
  assert.strictEqual((await refresh(s)).status, 401);
});

test('password change revokes every refresh token and gives the caller a new session', async () => {
  const s = await A.signup(d);
  const second = A.sessionOf(await A.login(d, s.email, s.password));
  const wrong = await A.api(d, 'POST', '/api/v1/auth/password', { token: s.access, body: { current_password: 'nope nope', new_password: 'new password 1' } });
  assert.strictEqual(wrong.status, 422);
  const r = await A.api(d, 'POST', '/api/v1/auth/password', { token: s.access, body: { current_password: s.password, new_password: 'new password 1' } });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.strictEqual((await refresh(s)).status, 401);
  assert.strictEqual((await refresh(second)).status, 401);
  const fresh = A.sessionOf(r);
  assert.strictEqual((await refresh(fresh)).status, 200);
  assert.strictEqual((await A.login(d, s.email, s.password)).status, 401);
  assert.strictEqual((await A.login(d, s.email, 'new password 1')).status, 200);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM audit_log WHERE action = 'user.password_changed' AND target_id = '${s.user.id}'`), '1');
});

test('an expired refresh token is refused', async () => {
  const s = await A.signup(d);
  await d.sql(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = sha256('${s.refresh}'::bytea)`);
  assert.strictEqual((await refresh(s)).status, 401);
});
