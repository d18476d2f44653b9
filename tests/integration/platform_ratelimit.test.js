// Rate limits and bans in Redis, and what happens when Redis goes away:
// the contact form (fail-closed) gives 429 + Retry-After over its limit,
// bans an address after repeated invalid submissions, and answers 503 with
// Redis stopped, as does sign-in; the audit log (a fail-open read) keeps
// working, and the daemon still stops cleanly.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');
const { sleep } = require('./lib/servers');

const good = { name: 'Ann', email: 'ann@example.com', subject: 'Hello', message: 'Hi!' };

let d;
test.before(async () => {
  d = await A.startAuthDaemon({
    contact_limit: 3, contact_window_s: 60, contact_max_failures: 3, contact_ban_s: 120,
  });
});
test.after(async () => { if (d) await d.stop(); });

const contact = (body, raw) => A.api(d, 'POST', '/api/v1/contact', raw !== undefined ? { raw } : { body });

test('over the limit: 429 with Retry-After, refused hits do not extend the wait', async () => {
  d.redis.cli('FLUSHALL');
  for (let i = 0; i < 3; i++) assert.strictEqual((await contact(good)).status, 202, `message ${i + 1}`);
  const r = await contact(good);
  assert.strictEqual(r.status, 429);
  assert.strictEqual(r.headers.get('content-type'), 'application/problem+json');
  assert.strictEqual(r.body.type, 'https://mentorlink.dev/problems/rate-limited');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${ra}`);
  for (let i = 0; i < 5; i++) assert.strictEqual((await contact(good)).status, 429);
  // Only the three allowed hits are in the window (sorted set in Redis).
  const keys = d.redis.cli('--raw', 'KEYS', 'rl:contact:*').split('\n').filter(Boolean);
  assert.strictEqual(keys.length, 1);
  assert.strictEqual(d.redis.cli('ZCARD', keys[0]), '3');
  const ttl = Number(d.redis.cli('PTTL', keys[0]));
  assert.ok(ttl > 0 && ttl <= 60000, `window key expires (${ttl} ms)`);
});

test('the window slides: a hit is allowed again once the oldest leaves the window', async () => {
  d.redis.cli('FLUSHALL');
  const key = 'rl:contact:::ffff:127.0.0.1';
  for (let i = 0; i < 3; i++) assert.strictEqual((await contact(good)).status, 202);
  assert.strictEqual((await contact(good)).status, 429);
  // Age the oldest hit by 61 s (scores are milliseconds of Redis' clock).
  const [member, score] = d.redis.cli('--raw', 'ZRANGE', key, '0', '0', 'WITHSCORES').split('\n');
  d.redis.cli('ZADD', key, String(Number(score) - 61000), member);
  assert.strictEqual((await contact(good)).status, 202);
  assert.strictEqual((await contact(good)).status, 429);
});

test('repeated invalid submissions ban the address, with Retry-After', async () => {
  d.redis.cli('FLUSHALL');
  for (let i = 0; i < 3; i++) {
    const r = await contact('{"nope": ', '{"nope": ');
    assert.strictEqual(r.status, 400, `invalid ${i + 1}`);
  }
  const r = await contact(good); // even a valid message is refused while banned
  assert.strictEqual(r.status, 429);
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra > 60 && ra <= 120, `ban Retry-After ${ra}`);
  const banTtl = Number(d.redis.cli('PTTL', 'rb:contact:::ffff:127.0.0.1'));
  assert.ok(banTtl > 60000 && banTtl <= 120000, `ban key TTL ${banTtl}`);
  d.redis.cli('DEL', 'rb:contact:::ffff:127.0.0.1');
  assert.strictEqual((await contact(good)).status, 202);
});

test('Redis down: fail-closed routes answer 503, fail-open reads keep working; recovery', async () => {
  d.redis.cli('FLUSHALL');
  const admin = await A.userWithRole(d, 'admin');
  const before = await A.api(d, 'GET', '/api/v1/admin/audit?limit=1', { token: admin.access });
  assert.strictEqual(before.status, 200);
  d.redis.stop();
  await sleep(300);
  const c = await contact(good);
  assert.strictEqual(c.status, 503);
  assert.strictEqual(c.body.type, 'https://mentorlink.dev/problems/rate-limiter-unavailable');
  assert.ok(Number(c.headers.get('retry-after')) >= 1);
  const login = await A.login(d, admin.email, admin.password);
  assert.strictEqual(login.status, 503, 'sign-in is fail-closed');
  const read = await A.api(d, 'GET', '/api/v1/admin/audit?limit=1', { token: admin.access });
  assert.strictEqual(read.status, 200, 'the audit log is a fail-open read');
  const ready = await fetch(d.baseUrl + '/readyz');
  assert.strictEqual(ready.status, 503);
  assert.match(d.logs(), /\[ratelimit\] Redis unavailable/);
});
