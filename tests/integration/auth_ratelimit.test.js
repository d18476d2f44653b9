// Rate limits on login and OTP routes: brute force gets 429 with
// Retry-After and a temporary ban (even the right password is refused while
// it lasts); per-IP limits; with Redis down, login and OTP routes fail
// closed with 503 while token checks keep working.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

test('brute force on one account: 401 x5, then 429 + Retry-After and a ban', async () => {
  const d = await A.startAuthDaemon();
  try {
    const s = await A.signup(d);
    const statuses = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await A.login(d, s.email, `wrong guess ${i}`);
      statuses.push(last.status);
    }
    assert.deepStrictEqual(statuses.slice(0, 4), [401, 401, 401, 401]);
    assert.ok(statuses.slice(4).every((x) => x === 429), statuses.join(','));
    const retry = Number(last.headers.get('retry-after'));
    assert.ok(retry > 60 && retry <= 900, `Retry-After ${retry}`);
    // banned: the right password does not help now
    assert.strictEqual((await A.login(d, s.email, s.password)).status, 429);
    // other accounts are unaffected
    const t = await A.signup(d);
    assert.strictEqual((await A.login(d, t.email, t.password)).status, 200);
    // lifting the ban (its Redis key) lets the owner in again
    for (const k of d.redis.cli('--scan', '--pattern', 'rb:login-account:*').split('\n').filter(Boolean)) d.redis.cli('DEL', k);
    assert.strictEqual((await A.login(d, s.email, s.password)).status, 200);
  } finally { await d.stop(); }
});

test('per-IP limit across accounts', async () => {
  const d = await A.startAuthDaemon({ auth_ip_rate_per_minute: 5 });
  try {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await A.login(d, A.uniqueEmail('spray'), 'whatever 123')).status);
    assert.deepStrictEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.deepStrictEqual(statuses.slice(5), [429, 429]);
  } finally { await d.stop(); }
});

test('verify: wrong codes beyond the per-address limit get 429', async () => {
  const d = await A.startAuthDaemon();
  try {
    const email = A.uniqueEmail('guess');
    await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: 'a long password', name: 'G' } });
    await A.waitCode(d, email);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code: String(100000 + i) } })).status);
    assert.deepStrictEqual(statuses, [400, 400, 400, 429, 429]);
  } finally { await d.stop(); }
});

test('Redis down: login and OTP routes answer 503; bearer checks still work', async () => {
  const d = await A.startAuthDaemon();
  try {
    const s = await A.signup(d);
    d.redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    const li = await A.login(d, s.email, s.password);
    assert.strictEqual(li.status, 503);
    assert.ok(li.headers.get('retry-after'));
    assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/register', { body: { email: A.uniqueEmail('r'), password: 'a long password', name: 'R' } })).status, 503);
    assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email: s.email, code: '123456' } })).status, 503);
    assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/resend', { body: { email: s.email } })).status, 503);
    assert.strictEqual((await A.api(d, 'GET', '/api/v1/me', { token: s.access })).status, 200);
  } finally { await d.stop(); }
});
