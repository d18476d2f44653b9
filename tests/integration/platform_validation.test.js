// REST conventions for JSON bodies, exercised through the public contact
// form (POST /api/v1/contact): 415 for non-JSON content types, 400 for
// malformed JSON / non-objects / invalid UTF-8 / NUL bytes / duplicate
// keys, 422 with an `errors` list for missing fields, wrong types, values
// out of range and unknown fields, 413 for huge bodies; SQL metacharacters
// and header-injection attempts never reach the database or a mail header.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { postgres } = require('./lib/servers');

let d, sql;
test.before(async () => {
  d = await startDaemon({
    config: { max_body_bytes: 8192, contact_limit: 1000, contact_max_failures: 100000, job_workers: 0 },
  });
  const pg = await postgres();
  sql = (q) => pg.psql(d.db.name, q);
});
test.after(async () => { if (d) await d.stop(); });

const good = { name: 'Ann', email: 'ann@example.com', subject: 'Hello', message: 'Hi!' };

async function post(body, { contentType = 'application/json', raw = false } = {}) {
  const headers = {};
  if (contentType) headers['content-type'] = contentType;
  const r = await fetch(d.baseUrl + '/api/v1/contact', {
    method: 'POST', headers, body: raw ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, type: r.headers.get('content-type'), json, text, headers: r.headers };
}

function assertProblem(r, status, slug) {
  assert.strictEqual(r.status, status, r.text);
  assert.strictEqual(r.type, 'application/problem+json');
  assert.strictEqual(r.json.status, status);
  assert.strictEqual(r.json.type, `https://mentorlink.dev/problems/${slug}`);
  assert.strictEqual(r.json.instance, '/api/v1/contact');
  assert.match(r.json.request_id, /^[0-9a-f-]+$/);
}

const errorsOf = (r) => Object.fromEntries(r.json.errors.map((e) => [e.field, e.message]));

test('a valid body is accepted', async () => {
  const r = await post(good);
  assert.strictEqual(r.status, 202);
  assert.deepStrictEqual(r.json, { status: 'queued' });
});

test('415 for a body that is not declared as JSON', async () => {
  assertProblem(await post(good, { contentType: null }), 415, 'unsupported-media-type');
  assertProblem(await post(good, { contentType: 'text/plain' }), 415, 'unsupported-media-type');
  assertProblem(await post(good, { contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type');
  assertProblem(await post(good, { contentType: 'application/json; charset=iso-8859-1' }), 415, 'unsupported-media-type');
  assert.strictEqual((await post(good, { contentType: 'application/json; charset=utf-8' })).status, 202);
});

test('400 for malformed JSON, non-objects, empty bodies, duplicate keys', async () => {
  for (const raw of ['{', '{"name": "Ann",}', "{'name': 'Ann'}", '[]', '"text"', '42', 'null',
    '{"name":"a","name":"b","email":"ann@example.com","subject":"s","message":"m"}']) {
    const r = await post(raw, { raw: true });
    assertProblem(r, 400, 'malformed-body');
    assert.ok(r.json.detail.length > 0);
  }
});

test('400 for an empty body', async () => {
  assertProblem(await post('', { raw: true }), 400, 'malformed-body');
});

test('400 for invalid UTF-8 and for NUL bytes, raw or escaped', async () => {
  const base = JSON.stringify(good);
  const invalid = Buffer.concat([Buffer.from(base.slice(0, 10)), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from(base.slice(10))]);
  assertProblem(await post(invalid, { raw: true }), 400, 'malformed-body');
  const cesu = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","email":"ann@example.com","subject":"s","message":"m"}')]);
  assertProblem(await post(cesu, { raw: true }), 400, 'malformed-body');
  const nul = Buffer.concat([Buffer.from(base), Buffer.from([0]), Buffer.from('{}')]);
  const r = await post(nul, { raw: true });
  assertProblem(r, 400, 'malformed-body');
  assert.match(r.json.detail, /NUL/);
  assertProblem(await post('{"name":"a\\u0000b","email":"ann@example.com","subject":"s","message":"m"}', { raw: true }),
    400, 'malformed-body');
});

test('422 lists every field error: missing, wrong type, unknown, out of range, bad email', async () => {
  let r = await post({});
  assertProblem(r, 422, 'validation-failed');
  assert.deepStrictEqual(errorsOf(r), {
    name: 'is required', email: 'is required', subject: 'is required', message: 'is required',
  });
  r = await post({ name: 42, email: 'not-an-email', subject: ['x'], message: '', admin: true, role: 'x' });
  assertProblem(r, 422, 'validation-failed');
  assert.deepStrictEqual(errorsOf(r), {
    admin: 'is not a known field',
    role: 'is not a known field',
    name: 'must be a string',
    email: 'must be an email address',
    subject: 'must be a string',
    message: 'must not be empty',
  });
  r = await post({ ...good, name: 'x'.repeat(101), subject: '   ', message: 'y'.repeat(5001) });
  assert.deepStrictEqual(errorsOf(r), {
    name: 'must be at most 100 characters long',
    subject: 'must not be empty',
    message: 'must be at most 5000 characters long',
  });
  r = await post({ ...good, email: null, name: null });
  assert.deepStrictEqual(errorsOf(r), { name: 'is required', email: 'is required' });
});

test('header injection in a name or subject is refused, not mailed', async () => {
  const r = await post({ ...good, name: 'Eve\r\nBcc: victim@example.com', subject: 'x\nTo: y@example.com' });
  assertProblem(r, 422, 'validation-failed');
  assert.deepStrictEqual(errorsOf(r), {
    name: 'must not contain control characters',
    subject: 'must not contain control characters',
  });
  const e = await post({ ...good, email: 'eve@example.com>\r\nBcc: x@example.com' });
  assert.strictEqual(errorsOf(e).email, 'must not contain control characters');
});

test('SQL metacharacters are data: stored and queued verbatim', async () => {
  const evil = "Robert'); DROP TABLE email_outbox; -- \\ $1 %s \"q\"";
  const r = await post({ ...good, name: evil, subject: evil, message: evil });
  assert.strictEqual(r.status, 202);
  const got = sql(`SELECT subject FROM email_outbox WHERE subject LIKE '%DROP TABLE%' ORDER BY id DESC LIMIT 1`);
  assert.strictEqual(got, `[Contact] ${evil}`);
  assert.strictEqual(sql("SELECT count(*) > 0 FROM email_outbox"), 't');
});

test('413 for a body larger than max_body_bytes; the server stays up', async () => {
  const r = await post({ ...good, message: 'z'.repeat(20000) });
  assert.strictEqual(r.status, 413);
  assert.strictEqual(r.type, 'application/problem+json');
  assert.strictEqual((await post(good)).status, 202);
});

test('405 with Allow for another method on the route', async () => {
  const r = await fetch(d.baseUrl + '/api/v1/contact');
  assert.strictEqual(r.status, 405);
  assert.strictEqual(r.headers.get('allow'), 'POST');
});

test('nothing half-written: every queued email has its job and audit entry', async () => {
  assert.strictEqual(sql(`SELECT count(*) FROM email_outbox e WHERE NOT EXISTS
    (SELECT 1 FROM jobs j WHERE j.kind = 'email.send' AND j.payload->>'email_id' = e.id::text)`), '0');
  assert.strictEqual(sql(`SELECT count(*) FROM email_outbox e WHERE NOT EXISTS
    (SELECT 1 FROM audit_log a WHERE a.action = 'contact.message' AND a.target_id = e.id::text)`), '0');
  assert.strictEqual(sql('SELECT count(*) FROM email_outbox'), sql("SELECT count(*) FROM audit_log WHERE action = 'contact.message'"));
});
