// Helpers for the auth_*.test.js files: a daemon wired to an SMTP sink,
// JSON requests with cookies and CSRF headers, sign-up by reading the code
// from the captured email, hand-made JWTs, and direct SQL to check what was
// (not) stored.
'use strict';
const assert = require('node:assert');
const crypto = require('crypto');
const { startDaemon } = require('./daemon');
const { startSmtpSink } = require('./smtp_sink');
const { postgres } = require('./servers');

async function startAuthDaemon(config = {}) {
  const sink = await startSmtpSink();
  const d = await startDaemon({ config: { smtp_url: sink.url, job_poll_ms: 100, ...config } });
  d.sink = sink;
  d.sql = async (q) => (await postgres()).psql(d.db.name, q);
  const stop = d.stop.bind(d);
  d.stop = async (...a) => {
    try { return await stop(...a); } finally { await sink.stop(); }
  };
  return d;
}

// One request: {status, headers, body (parsed JSON or text), cookies}.
async function api(d, method, path, { body, raw, token, headers = {}, session } = {}) {
  const h = { ...headers };
  if (body !== undefined || raw !== undefined) h['content-type'] = h['content-type'] || 'application/json';
  if (token) h.authorization = `Bearer ${token}`;
  if (session) {
    if (session.refresh && !h.cookie) h.cookie = `ml_refresh=${session.refresh}`;
    if (session.csrf && h['x-csrf-token'] === undefined) h['x-csrf-token'] = session.csrf;
    if (h.origin === undefined) h.origin = d.baseUrl;
  }
  const r = await fetch(d.baseUrl + path, {
    method,
    headers: h,
    body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  const cookies = {};
  for (const c of r.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    cookies[pair.slice(0, i)] = { value: pair.slice(i + 1), raw: c };
  }
  return { status: r.status, headers: r.headers, body: parsed, cookies };
}

// The session a sign-in answer gives: access token, refresh cookie, CSRF.
function sessionOf(r) {
  return {
    access: r.body.access_token,
    refresh: r.cookies.ml_refresh && r.cookies.ml_refresh.value,
    csrf: r.body.csrf_token,
    user: r.body.user,
  };
}

function codeFrom(message) {
  const m = (message.text || '').match(/code is (\d{6})/);
  return m ? m[1] : null;
}

async function waitCode(d, email, after = 0) {
  const m = await d.sink.waitFor((x) => x.to.includes(email) && /code/.test(x.subject) &&
    d.sink.messages.indexOf(x) >= after, 15000);
  return codeFrom(m);
}

let counter = 0;
function uniqueEmail(prefix = 'user') {
  counter += 1;
  return `${prefix}${counter}.${process.pid}@example.com`;
}

// Register + verify; returns the session.
async function signup(d, { email = uniqueEmail(), password = 'correct horse battery', name = 'Test User' } = {}) {
  const before = d.sink.messages.length;
  const r = await api(d, 'POST', '/api/v1/auth/register', { body: { email, password, name } });
  if (r.status !== 202) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  const code = await waitCode(d, email, before);
  const v = await api(d, 'POST', '/api/v1/auth/verify', { body: { email, code } });
  if (v.status !== 200) throw new Error(`verify: ${v.status} ${JSON.stringify(v.body)}`);
  return { ...sessionOf(v), email, password };
}

async function login(d, email, password) {
  return api(d, 'POST', '/api/v1/auth/login', { body: { email, password } });
}

// Make a user with a role directly (signup, then SQL) and sign in again.
async function userWithRole(d, role) {
  const s = await signup(d);
  if (role !== 'mentee') await d.sql(`UPDATE users SET role = '${role}' WHERE email = '${s.email}'`);
  const r = await login(d, s.email, s.password);
  if (r.status !== 200) throw new Error(`login: ${r.status}`);
  return { ...sessionOf(r), email: s.email, password: s.password };
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// A compact JWS from header/payload objects; signer(signingInput) -> Buffer.
function jws(header, payload, signer) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${signer ? b64u(signer(input)) : ''}`;
}

function hs256(secret) {
  return (input) => crypto.createHmac('sha256', secret).update(input).digest();
}

// The daemon's newest signing key (kid, secret Buffer), read from the DB.
async function signingKey(d) {
  const row = await d.sql("SELECT kid || ' ' || encode(secret, 'hex') FROM auth_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1");
  const [kid, hex] = row.split(' ');
  return { kid, secret: Buffer.from(hex, 'hex') };
}

// A user inserted in SQL (active, `role`, named "<name> <n>") with a
// 10-minute access token signed by the daemon's key (from signingKey):
// tests that need many users skip the sign-up by email code. `tag` keeps
// emails and token ids apart between files. Returns { id, access, email }.
let sqlUserSeq = 0;
async function sqlUser(d, key, { role = 'mentee', name = 'User', tag = 'su' } = {}) {
  sqlUserSeq += 1;
  const n = sqlUserSeq;
  const email = `${tag}${n}.${process.pid}.${Date.now()}@example.com`;
  const id = Number(await d.sql(`INSERT INTO users (email, name, role, status) VALUES ('${email}', '${name} ${n}', '${role}', 'active') RETURNING id`));
  const now = Math.floor(Date.now() / 1000);
  const access = jws({ alg: 'HS256', typ: 'JWT', kid: key.kid },
    { iss: d.baseUrl, aud: 'mentorlink-api', sub: String(id), role, iat: now, nbf: now, exp: now + 600, jti: `${tag}-${id}` },
    hs256(key.secret));
  return { id, access, email };
}

// Make user m a bookable mentor: PUT its profile and weekly availability
// rules, POST one session type (each must succeed); m.type is the type.
async function setupMentor(d, m, { profile, rules, type }) {
  let r = await api(d, 'PUT', '/api/v1/mentor/profile', { token: m.access, body: profile });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  r = await api(d, 'PUT', '/api/v1/mentor/availability', { token: m.access, body: { rules } });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  r = await api(d, 'POST', '/api/v1/mentor/session-types', { token: m.access, body: type });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  m.type = r.body;
  return m;
}

// Weekly rules for every day of the week from start to end ("HH:MM").
const everyDay = (start, end) => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start, end }));

module.exports = {
  startAuthDaemon, api, sessionOf, signup, login, userWithRole, uniqueEmail, waitCode, codeFrom,
  jws, hs256, signingKey, b64u, sqlUser, setupMentor, everyDay,
};
