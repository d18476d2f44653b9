// Access tokens against the real daemon: login, /me, and every kind of bad
// token refused with 401 (expired, not yet valid, wrong aud/iss, forged
// signature, alg none, algorithm confusion, unknown kid); a disabled
// account and logout-all kill live tokens at once; a newer key is picked up
// by kid from the shared database.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const A = require('./lib/auth');

let d, s, key;
test.before(async () => {
  d = await A.startAuthDaemon();
  s = await A.signup(d);
  key = await A.signingKey(d);
});
test.after(async () => { if (d) await d.stop(); });

const now = () => Math.floor(Date.now() / 1000);
function claims(over = {}) {
  return { iss: d.baseUrl, aud: 'mentorlink-api', sub: String(s.user.id), role: 'mentee', jti: 'test-' + Math.random(),
    iat: now(), nbf: now(), exp: now() + 300, ...over };
}
const me = (token) => A.api(d, 'GET', '/api/v1/me', { token });

test('login returns a JWT with kid and the documented claims; /me works', async () => {
  const r = await A.login(d, s.email, s.password);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.token_type, 'Bearer');
  assert.strictEqual(r.headers.get('cache-control'), 'no-store');
  const [h, p] = r.body.access_token.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url')));
  assert.strictEqual(h.alg, 'HS256');
  assert.strictEqual(h.kid, key.kid);
  for (const c of ['iss', 'aud', 'sub', 'role', 'iat', 'nbf', 'exp', 'jti']) assert.ok(c in p, c);
  assert.strictEqual(p.exp - p.iat, 900);
  const m = await me(r.body.access_token);
  assert.strictEqual(m.status, 200);
  assert.strictEqual(m.body.id, s.user.id);
  // a token the test signs with the daemon's key is accepted (the checks below are meaningful)
  assert.strictEqual((await me(A.jws({ alg: 'HS256', typ: 'JWT', kid: key.kid }, claims(), A.hs256(key.secret)))).status, 200);
});

test('unknown email and wrong password get the same 401 body', async () => {
  const a = await A.login(d, s.email, 'wrong password');
  const b = await A.login(d, A.uniqueEmail('nobody'), 'wrong password');
  assert.strictEqual(a.status, 401);
  assert.strictEqual(b.status, 401);
  delete a.body.request_id; delete b.body.request_id;
  assert.deepStrictEqual(a.body, b.body);
});

test('bad tokens are refused with 401', async () => {
  const hdr = { alg: 'HS256', typ: 'JWT', kid: key.kid };
  const sign = A.hs256(key.secret);
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases = {
    expired: A.jws(hdr, claims({ iat: now() - 1000, nbf: now() - 1000, exp: now() - 100 }), sign),
    'not yet valid (nbf)': A.jws(hdr, claims({ nbf: now() + 300, exp: now() + 600 }), sign),
    'issued in the future': A.jws(hdr, claims({ iat: now() + 300, exp: now() + 600 }), sign),
    'wrong aud': A.jws(hdr, claims({ aud: 'another-api' }), sign),
    'wrong iss': A.jws(hdr, claims({ iss: 'https://evil.example' }), sign),
    'too long-lived': A.jws(hdr, claims({ exp: now() + 86400 }), sign),
    'forged signature': A.jws(hdr, claims(), A.hs256(crypto.randomBytes(32))),
    'tampered payload': (() => {
      const t = A.jws(hdr, claims(), sign).split('.');
      t[1] = A.b64u(JSON.stringify(claims({ role: 'admin', sub: '1' })));
      return t.join('.');
    })(),
    'alg none': A.jws({ alg: 'none', typ: 'JWT', kid: key.kid }, claims()),
    'alg none without kid': A.jws({ alg: 'none' }, claims()),
    'RS256 with an attacker key': A.jws({ alg: 'RS256', kid: key.kid }, claims(),
      (i) => crypto.sign('sha256', Buffer.from(i), privateKey)),
    'ES256 with an attacker key': A.jws({ alg: 'ES256', kid: key.kid }, claims(),
      (i) => crypto.sign('sha256', Buffer.from(i), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })),
    'HS256 keyed with a public key PEM': A.jws(hdr, claims(), A.hs256(pubPem)),
    'HS512 with the real secret': A.jws({ alg: 'HS512', kid: key.kid }, claims(),
      (i) => crypto.createHmac('sha512', key.secret).update(i).digest()),
    'unknown kid': A.jws({ ...hdr, kid: 'no-such-key-000' }, claims(), sign),
    'no kid': A.jws({ alg: 'HS256', typ: 'JWT' }, claims(), sign),
    'jku header': A.jws({ ...hdr, jku: 'http://127.0.0.1:1/jwks' }, claims(), sign),
    'unknown user': A.jws(hdr, claims({ sub: '999999' }), sign),
    garbage: 'not.a.token',
    empty: '',
  };
  for (const [what, token] of Object.entries(cases)) {
    const r = await me(token);
    assert.strictEqual(r.status, 401, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get('www-authenticate') || '', /^Bearer/, what);
  }
  for (const h of ['Basic dXNlcjpwYXNz', 'bearer', 'Token abc']) {
    const r = await A.api(d, 'GET', '/api/v1/me', { headers: { authorization: h } });
    assert.strictEqual(r.status, 401, h);
  }
});

test('disabling an account kills its live access token at once; re-enabling restores it', async () => {
  const v = await A.signup(d);
  assert.strictEqual((await me(v.access)).status, 200);
  await d.sql(`UPDATE users SET disabled = true WHERE id = ${v.user.id}`);
  assert.strictEqual((await me(v.access)).status, 401);
  const li = await A.login(d, v.email, v.password);
  assert.strictEqual(li.status, 403);
  await d.sql(`UPDATE users SET disabled = false WHERE id = ${v.user.id}`);
  assert.strictEqual((await me(v.access)).status, 200);
});

test('a role change applies to the next request (role is read from the account)', async () => {
  const v = await A.signup(d);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users', { token: v.access })).status, 403);
  await d.sql(`UPDATE users SET role = 'admin' WHERE id = ${v.user.id}`);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/admin/users', { token: v.access })).status, 200);
});

test('logout-all ends refresh families and live access tokens', async () => {
  const v = await A.signup(d);
  const second = A.sessionOf(await A.login(d, v.email, v.password));
  await new Promise((r) => setTimeout(r, 1100)); // tokens issued in an earlier second
  const r = await A.api(d, 'POST', '/api/v1/auth/logout-all', { token: v.access });
  assert.strictEqual(r.status, 204);
  assert.strictEqual((await me(v.access)).status, 401);
  assert.strictEqual((await me(second.access)).status, 401);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/refresh', { session: second })).status, 401);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM refresh_families WHERE user_id = ${v.user.id} AND revoked_at IS NULL`), '0');
  assert.strictEqual((await A.login(d, v.email, v.password)).status, 200);
});

test('key rotation: a newer key in the shared table is found by kid; the old one still verifies', async () => {
  const secret = crypto.randomBytes(32);
  const kid = 'rotated-key-' + process.pid;
  await d.sql(`INSERT INTO auth_signing_keys (kid, secret, created_at) VALUES ('${kid}', decode('${secret.toString('hex')}', 'hex'), now() + interval '1 second')`);
  const t = A.jws({ alg: 'HS256', typ: 'JWT', kid }, claims(), A.hs256(secret));
  // Each pool thread reloads keys for an unknown kid at most every 5 s (a
  // throttle against forged kids, which earlier tests send): allow that.
  let status = 0;
  const deadline = Date.now() + 8000;
  while ((status = (await me(t)).status) !== 200 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 250));
  assert.strictEqual(status, 200);
  assert.strictEqual((await me(A.jws({ alg: 'HS256', typ: 'JWT', kid: key.kid }, claims(), A.hs256(key.secret)))).status, 200);
});
