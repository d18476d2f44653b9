// Google sign-in against a JWKS the test serves from a local HTTP server
// (RSA key made with Node's crypto): a valid token creates or links an
// account; wrong aud, wrong iss, expired, unverified email, unknown kid,
// bad signature and algorithm tricks are refused with 401.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const http = require('http');
const A = require('./lib/auth');

const CLIENT = 'test-client.apps.googleusercontent.com';
let d, jwks, hits = 0;
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'google-test-key-1';

test.before(async () => {
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
  jwks = http.createServer((req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [{ kty: 'EC', kid: 'ignored-ec', crv: 'P-256', x: 'AA', y: 'AA' }, jwk] }));
  });
  await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
  d = await A.startAuthDaemon({
    google_client_id: CLIENT,
    google_jwks_url: `http://127.0.0.1:${jwks.address().port}/oauth2/v3/certs`,
  });
});
test.after(async () => {
  if (d) await d.stop();
  if (jwks) jwks.close();
});

const now = () => Math.floor(Date.now() / 1000);
function idToken(over = {}, { kid = KID, key = privateKey, alg = 'RS256', signer } = {}) {
  const payload = { iss: 'https://accounts.google.com', aud: CLIENT, azp: CLIENT, sub: '1000' + Math.floor(Math.random() * 1e9),
    email: A.uniqueEmail('g'), email_verified: true, name: 'Gina Google', iat: now(), exp: now() + 3600, ...over };
  return A.jws({ alg, kid, typ: 'JWT' }, payload, signer || ((i) => crypto.sign('sha256', Buffer.from(i), key)));
}
const google = (id_token) => A.api(d, 'POST', '/api/v1/auth/google', { body: { id_token } });

test('a valid ID token creates an active mentee and signs in', async () => {
  const email = A.uniqueEmail('gnew');
  const r = await google(idToken({ email }));
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.strictEqual(r.body.user.email, email);
  assert.strictEqual(r.body.user.role, 'mentee');
  assert.strictEqual(r.body.user.status, 'active');
  assert.strictEqual(r.body.user.google_linked, true);
  assert.strictEqual(r.body.user.has_password, false);
  assert.ok(r.cookies.ml_refresh);
  assert.strictEqual((await A.api(d, 'GET', '/api/v1/me', { token: r.body.access_token })).status, 200);
  // the same subject signs in to the same account; issuer without scheme accepted
  const sub = JSON.parse(Buffer.from(r.body.access_token.split('.')[1], 'base64url')).sub;
  const again = await google(idToken({ email, sub: await d.sql(`SELECT google_sub FROM users WHERE id = ${sub}`), iss: 'accounts.google.com' }));
  assert.strictEqual(again.status, 200);
  assert.strictEqual(again.body.user.id, r.body.user.id);
  // no password to change for a Google-only account
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/password', { token: r.body.access_token, body: { current_password: 'x', new_password: 'long enough 1' } })).status, 409);
});

test('links to an existing account with the same email', async () => {
  const s = await A.signup(d);
  const r = await google(idToken({ email: s.email }));
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.user.id, s.user.id);
  assert.strictEqual(r.body.user.google_linked, true);
  assert.strictEqual((await A.login(d, s.email, s.password)).status, 200); // password still works
  // a different Google subject for the same email is refused
  assert.strictEqual((await google(idToken({ email: s.email, sub: 'someone-else' }))).status, 409);
});

test('a pending pre-registration is activated without its unverified password', async () => {
  const email = A.uniqueEmail('prereg');
  await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: 'attacker password', name: 'X' } });
  const r = await google(idToken({ email }));
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.user.has_password, false);
  assert.strictEqual((await A.login(d, email, 'attacker password')).status, 401);
});

test('invalid ID tokens are refused with 401 and create nothing', async () => {
  const count = await d.sql('SELECT count(*) FROM users');
  const { publicKey: _p, ...rest } = other; // eslint-disable-line no-unused-vars
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const cases = {
    'wrong aud': idToken({ aud: 'another-client' }),
    'wrong iss': idToken({ iss: 'https://evil.example' }),
    expired: idToken({ iat: now() - 7200, exp: now() - 3600 }),
    'issued in the future': idToken({ iat: now() + 600 }),
    'unverified email': idToken({ email_verified: false }),
    'email_verified missing': idToken({ email_verified: undefined }),
    'unknown kid': idToken({}, { kid: 'not-a-google-key' }),
    'signed by another key': idToken({}, { key: rest.privateKey }),
    'alg none': idToken({}, { alg: 'none', signer: () => Buffer.alloc(0) }),
    'HS256 keyed with the public key PEM': idToken({}, { alg: 'HS256', signer: (i) => crypto.createHmac('sha256', pem).update(i).digest() }),
    'RS512 header': idToken({}, { alg: 'RS512' }),
    'bad email': idToken({ email: 'not an email' }),
    garbage: 'aaaa.bbbb.cccc-not-base64!',
  };
  for (const [what, tok] of Object.entries(cases)) {
    const r = await google(tok);
    assert.strictEqual(r.status, 401, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  assert.strictEqual(await d.sql('SELECT count(*) FROM users'), count);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/google', { body: { id_token: 'x'.repeat(20), extra: 1 } })).status, 422);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/google', { body: { id_token: 42 } })).status, 422);
});

test('the key set is cached: an unknown kid does not refetch within a minute', async () => {
  const before = hits;
  for (let i = 0; i < 3; i++) await google(idToken({}, { kid: 'unknown-' + i }));
  await google(idToken());
  assert.ok(hits - before <= 1, `fetched ${hits - before} times`);
});

test('Google sign-in off (no client id) is 404; an unreachable key set is 503', async () => {
  const off = await A.startAuthDaemon();
  try {
    assert.strictEqual((await A.api(off, 'POST', '/api/v1/auth/google', { body: { id_token: idToken() } })).status, 404);
  } finally { await off.stop(); }
  const down = await A.startAuthDaemon({ google_client_id: CLIENT, google_jwks_url: 'http://127.0.0.1:9/certs' });
  try {
    const r = await A.api(down, 'POST', '/api/v1/auth/google', { body: { id_token: idToken() } });
    assert.strictEqual(r.status, 503);
    assert.ok(r.headers.get('retry-after'));
  } finally { await down.stop(); }
});
