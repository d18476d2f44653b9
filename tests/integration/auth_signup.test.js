// Sign-up with an emailed code, against the real daemon, PostgreSQL, Redis
// and the SMTP sink: the code is read from the captured email; codes are
// stored hashed; answers do not reveal registered addresses; bad input is
// a clear 4xx with nothing stored.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d;
test.before(async () => { d = await A.startAuthDaemon(); });
test.after(async () => { if (d) await d.stop(); });

test('register, read the code from the email, verify, then use the session', async () => {
  const email = A.uniqueEmail('flow');
  const before = d.sink.messages.length;
  const r = await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: 'a long password', name: 'Ada' } });
  assert.strictEqual(r.status, 202);
  assert.strictEqual(await d.sql(`SELECT status || ' ' || role FROM users WHERE email = '${email}'`), 'pending mentee');
  const code = await A.waitCode(d, email, before);
  assert.match(code, /^\d{6}$/);
  // stored hashed: the table has no plain code anywhere
  const stored = await d.sql(`SELECT encode(code_hash, 'hex') || encode(salt, 'hex') FROM email_codes`);
  assert.ok(!stored.includes(Buffer.from(code).toString('hex')));
  assert.strictEqual(await d.sql(`SELECT count(*) FROM email_codes WHERE expires_at BETWEEN now() + interval '4 minutes' AND now() + interval '5 minutes 1 second'`), '1');
  // a pending account cannot sign in yet (correct password)
  const early = await A.login(d, email, 'a long password');
  assert.strictEqual(early.status, 403);
  const v = await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } });
  assert.strictEqual(v.status, 200, JSON.stringify(v.body));
  assert.ok(v.body.access_token && v.body.csrf_token);
  assert.strictEqual(v.body.user.status, 'active');
  const me = await A.api(d, 'GET', '/api/v1/me', { token: v.body.access_token });
  assert.strictEqual(me.status, 200);
  assert.strictEqual(me.body.email, email);
  // the code is single-use
  const again = await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } });
  assert.strictEqual(again.status, 400);
  const li = await A.login(d, email, 'a long password');
  assert.strictEqual(li.status, 200);
  assert.strictEqual(await d.sql(`SELECT count(*) FROM audit_log WHERE action = 'user.verified'`), '1');
});

test('wrong codes: same 400 as unknown address; 5 tries per code; resend gives a new code', async () => {
  const email = A.uniqueEmail('wrong');
  const before = d.sink.messages.length;
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: 'a long password', name: 'B' } })).status, 202);
  const code = await A.waitCode(d, email, before);
  const wrong = code === '000000' ? '111111' : '000000';
  const w = await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code: wrong } });
  assert.strictEqual(w.status, 400);
  const unknown = await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email: A.uniqueEmail('nobody'), code: wrong } });
  assert.strictEqual(unknown.status, 400);
  assert.strictEqual(unknown.body.detail, w.body.detail);
  assert.strictEqual(unknown.body.type, w.body.type);
  assert.strictEqual(await d.sql(`SELECT attempts FROM email_codes c JOIN users u ON u.id = c.user_id WHERE u.email = '${email}'`), '1');
  // exhaust the code's attempts directly, then even the right code fails
  await d.sql(`UPDATE email_codes SET attempts = 5 FROM users u WHERE u.id = user_id AND u.email = '${email}'`);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } })).status, 400);
  const before2 = d.sink.messages.length;
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/resend', { body: { email } })).status, 202);
  const code2 = await A.waitCode(d, email, before2);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code: code2 } })).status, 200);
  // resend for unknown and active addresses answers the same and sends nothing
  const n = d.sink.messages.length;
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/resend', { body: { email: A.uniqueEmail('ghost') } })).status, 202);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/resend', { body: { email } })).status, 202);
  await new Promise((r) => setTimeout(r, 500));
  assert.strictEqual(d.sink.messages.length, n);
});

test('an expired code is refused', async () => {
  const email = A.uniqueEmail('expired');
  const before = d.sink.messages.length;
  await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: 'a long password', name: 'C' } });
  const code = await A.waitCode(d, email, before);
  await d.sql(`UPDATE email_codes SET expires_at = now() - interval '1 second' FROM users u WHERE u.id = user_id AND u.email = '${email}'`);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } })).status, 400);
});

test('registering a taken address looks the same and notifies the owner instead', async () => {
  const s = await A.signup(d);
  const before = d.sink.messages.length;
  const r = await A.api(d, 'POST', '/api/v1/auth/register', { body: { email: s.email.toUpperCase(), password: 'another password', name: 'Mallory' } });
  assert.strictEqual(r.status, 202);
  const fresh = await A.api(d, 'POST', '/api/v1/auth/register', { body: { email: A.uniqueEmail('new'), password: 'another password', name: 'N' } });
  assert.deepStrictEqual(Object.keys(r.body).sort(), Object.keys(fresh.body).sort());
  assert.strictEqual(r.body.detail, fresh.body.detail);
  const m = await d.sink.waitFor((x) => x.to.includes(s.email) && d.sink.messages.indexOf(x) >= before, 10000);
  assert.match(m.subject, /tried to sign up/);
  // the owner's password and name are untouched
  assert.strictEqual((await A.login(d, s.email, s.password)).status, 200);
  assert.strictEqual(await d.sql(`SELECT name FROM users WHERE email = '${s.email}'`), 'Test User');
});

test('at most 3 codes per address per minute (429 + Retry-After)', async () => {
  const email = A.uniqueEmail('flood');
  const statuses = [];
  let last;
  for (let i = 0; i < 5; i++) {
    last = await A.api(d, 'POST', '/api/v1/auth/resend', { body: { email } });
    statuses.push(last.status);
  }
  assert.deepStrictEqual(statuses, [202, 202, 202, 429, 429]);
  assert.ok(Number(last.headers.get('retry-after')) >= 1);
  assert.strictEqual(last.headers.get('content-type'), 'application/problem+json');
});

test('bad input gets a clear 4xx and stores nothing', async () => {
  const count = async () => d.sql('SELECT (SELECT count(*) FROM users) || \'/\' || (SELECT count(*) FROM email_codes)');
  const before = await count();
  const cases = [
    { raw: '{"email": "x@example.com", "password": "long enough", ', want: 400, what: 'malformed JSON' },
    { raw: '', want: 400, what: 'empty body' },
    { raw: '[]', want: 400, what: 'array top level' },
    { body: { email: 'x@example.com', password: 12345678, name: 'A' }, want: 422, what: 'wrong type' },
    { body: { email: 'x@example.com', password: 'long enough', name: 'A', role: 'admin' }, want: 422, what: 'unknown field (role!)' },
    { body: { email: 'not-an-email', password: 'long enough', name: 'A' }, want: 422, what: 'bad email' },
    { body: { email: 'x@example.com', password: 'short', name: 'A' }, want: 422, what: 'short password' },
    { body: { email: 'x@example.com', password: 'long enough', name: '' }, want: 422, what: 'empty name' },
    { body: { email: 'x@example.com', password: 'long enough', name: 'A'.repeat(101) }, want: 422, what: 'long name' },
    { body: { email: 'x@example.com', password: 'p'.repeat(257), name: 'A' }, want: 422, what: 'long password' },
    { body: { email: 'x@example.com', password: 'long enough', name: 'A\u0000B' }, want: 400, what: 'NUL in name' },
    { body: { email: 'x@example.com', password: 'long enough', name: 'line\nbreak' }, want: 422, what: 'control char' },
    { raw: Buffer.from([0x7b, 0x22, 0x65, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), want: 400, what: 'invalid UTF-8' },
    { body: { email: 'x@example.com', password: 'long enough', name: 'A' }, headers: { 'content-type': 'text/plain' }, want: 415, what: 'not JSON' },
    { raw: JSON.stringify({ email: 'x@example.com', password: 'long enough', name: 'x'.repeat(2 * 1024 * 1024) }), want: 413, what: 'huge body' },
  ];
  for (const c of cases) {
    const r = await A.api(d, 'POST', '/api/v1/auth/register', c);
    assert.strictEqual(r.status, c.want, `${c.what}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status !== 413) assert.strictEqual(r.headers.get('content-type'), 'application/problem+json', c.what);
  }
  assert.strictEqual(await count(), before);
  // Login and verify refuse unknown fields and wrong types too.
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/login', { body: { email: 'x@example.com', password: 'x', admin: true } })).status, 422);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email: 'x@example.com', code: 123456 } })).status, 422);
  assert.strictEqual((await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email: 'x@example.com', code: '12a456' } })).status, 422);
});

test('SQL metacharacters are data, not code', async () => {
  const name = "Robert'); DROP TABLE users;--";
  const email = `o'brien+${process.pid}@example.com`;
  const before = d.sink.messages.length;
  const r = await A.api(d, 'POST', '/api/v1/auth/register', { body: { email, password: "pa'ss\"word;--", name } });
  assert.strictEqual(r.status, 202, JSON.stringify(r.body));
  const code = await A.waitCode(d, email, before);
  const v = await A.api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } });
  assert.strictEqual(v.status, 200);
  assert.strictEqual(v.body.user.name, name);
  assert.strictEqual(v.body.user.email, email);
  assert.strictEqual((await A.login(d, email, "pa'ss\"word;--")).status, 200);
  const inj = await A.login(d, "' OR 1=1 --@example.com", 'x');
  assert.ok([401, 422].includes(inj.status));
  assert.ok(Number(await d.sql('SELECT count(*) FROM users')) > 0);
});
