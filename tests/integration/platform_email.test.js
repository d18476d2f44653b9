// Email outbox, job runner and SMTP delivery against the real daemon, a
// fresh PostgreSQL database and the SMTP sink (lib/smtp_sink.js): delivery
// with proper headers, retries with back-off (the sink fails twice), a job
// that never succeeds ends `failed` with last_error, a job of an unknown
// kind fails after max_attempts, a job leased by a dead node is reclaimed
// after its lease, MIME with HTML and an .ics attachment, wake-up by
// NOTIFY without polling, and .eml files when smtp_url is empty.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startDaemon } = require('./lib/daemon');
const { postgres, sleep, waitFor } = require('./lib/servers');
const { startSmtpSink } = require('./lib/smtp_sink');

let sink, d, sql;
test.before(async () => {
  sink = await startSmtpSink();
  d = await startDaemon({
    config: {
      smtp_url: sink.url, support_email: 'support@example.com', job_poll_ms: 100,
      job_retry_base_ms: 100, job_max_attempts: 4, contact_limit: 1000,
    },
  });
  const pg = await postgres();
  sql = (q) => pg.psql(d.db.name, q);
});
test.after(async () => {
  if (d) await d.stop();
  if (sink) await sink.stop();
});

let n = 0;
function contact(daemon, extra = {}) {
  n += 1;
  const token = `t${n}x${process.pid}`;
  const body = {
    name: 'Zoë Tester', email: 'Zoe@Example.com', subject: `Héllo ✓ ${token}`,
    message: `Hi there,\nline two '; DROP TABLE users; -- ${token}\n`, ...extra,
  };
  const p = fetch(daemon.baseUrl + '/api/v1/contact', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { token, res: p };
}

async function waitSql(q, want, ms = 10000) {
  let last;
  await waitFor(() => { last = sql(q); return last === want; }, ms, `${q} = ${want} (last: ${last})`);
}

test('a contact message is queued, delivered to the sink with proper headers, and audited', async () => {
  const { token, res } = contact(d);
  const r = await res;
  assert.strictEqual(r.status, 202);
  assert.deepStrictEqual(await r.json(), { status: 'queued' });
  const m = await sink.waitFor((x) => x.subject.includes(token), 10000);
  assert.strictEqual(m.from, 'no-reply@mentorlink.localhost');
  assert.deepStrictEqual(m.to, ['support@example.com']);
  assert.strictEqual(m.subject, `[Contact] Héllo ✓ ${token}`);
  assert.match(m.headers.subject, /^=\?UTF-8\?B\?/);
  assert.match(m.headers['message-id'], /^<ml\.[0-9a-f]{24}@mentorlink\.localhost>$/);
  assert.match(m.headers.date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  assert.strictEqual(m.headers['mime-version'], '1.0');
  assert.strictEqual(m.headers['reply-to'], 'zoe@example.com');
  assert.strictEqual(m.headers.from, '"MentorLink" <no-reply@mentorlink.localhost>');
  assert.ok(m.text.includes(`line two '; DROP TABLE users; -- ${token}`), m.text);
  assert.ok(m.text.includes('From: Zoë Tester <zoe@example.com>'));
  for (const line of m.raw.split('\r\n')) assert.ok(line.length <= 78, `long line: ${line}`);
  const id = sql(`SELECT id FROM email_outbox WHERE subject LIKE '%${token}'`);
  await waitSql(`SELECT state || ' ' || attempts FROM email_outbox WHERE id = ${id}`, 'sent 1');
  await waitSql(`SELECT state || ' ' || attempts FROM jobs WHERE payload->>'email_id' = '${id}'`, 'done 1');
  assert.strictEqual(sql(`SELECT actor_role || ' ' || action || ' ' || target_type FROM audit_log WHERE target_id = '${id}'`),
    'anonymous contact.message email');
});

test('an SMTP server that fails twice gets the email on the third attempt', async () => {
  const before = sink.attempts.length;
  sink.failNext(2);
  const { token, res } = contact(d);
  assert.strictEqual((await res).status, 202);
  await sink.waitFor((x) => x.subject.includes(token), 15000);
  assert.strictEqual(sink.attempts.length - before, 3);
  assert.deepStrictEqual(sink.attempts.slice(before).map((a) => a.rejected), [true, true, false]);
  const id = sql(`SELECT id FROM email_outbox WHERE subject LIKE '%${token}'`);
  await waitSql(`SELECT state || ' ' || attempts || ' ' || coalesce(last_error, '-') FROM email_outbox WHERE id = ${id}`, 'sent 3 -');
  await waitSql(`SELECT state || ' ' || attempts || ' ' || coalesce(last_error, '-') FROM jobs WHERE payload->>'email_id' = '${id}'`, 'done 3 -');
});

test('an email that never gets through ends failed with the last error after max_attempts', async () => {
  sink.failNext(1000);
  try {
    const { token, res } = contact(d);
    assert.strictEqual((await res).status, 202);
    await waitFor(() => sql(`SELECT state FROM email_outbox WHERE subject LIKE '%${token}'`) === 'failed',
      15000, 'the email to fail');
    const row = sql(`SELECT j.state || '|' || j.attempts || '|' || j.last_error FROM jobs j JOIN email_outbox e
      ON j.payload->>'email_id' = e.id::text WHERE e.subject LIKE '%${token}'`);
    const [state, attempts, err] = row.split('|');
    assert.strictEqual(state, 'failed');
    assert.strictEqual(attempts, '4');
    assert.match(err, /SMTP: server replied 451/);
    assert.match(sql(`SELECT attempts || ' ' || last_error FROM email_outbox WHERE subject LIKE '%${token}'`),
      /^4 SMTP: server replied 451/);
  } finally {
    sink.failNext(0);
  }
});

test('a job of a kind no handler knows fails after its max_attempts with last_error', async () => {
  const id = sql("INSERT INTO jobs (kind, payload, max_attempts) VALUES ('test.nobody', '{}', 3) RETURNING id; NOTIFY ml_jobs");
  await waitSql(`SELECT state FROM jobs WHERE id = ${id}`, 'failed', 10000);
  assert.strictEqual(sql(`SELECT attempts || '|' || last_error FROM jobs WHERE id = ${id}`),
    "3|no handler for job kind 'test.nobody' on this node");
  assert.strictEqual(sql(`SELECT coalesce(locked_by, '-') FROM jobs WHERE id = ${id}`), '-');
});

test('a job whose payload is not an object fails at once', async () => {
  const id = sql("INSERT INTO jobs (kind, payload) VALUES ('email.send', '[1]') RETURNING id");
  await waitSql(`SELECT state || ' ' || attempts FROM jobs WHERE id = ${id}`, 'failed 1', 10000);
  const id2 = sql("INSERT INTO jobs (kind, payload) VALUES ('email.send', '{\"email_id\": 999999}') RETURNING id");
  await waitSql(`SELECT state || ' ' || attempts || ' ' || last_error FROM jobs WHERE id = ${id2}`,
    'failed 1 email 999999 does not exist', 10000);
});

test('a job leased by a dead node is reclaimed after its lease expires', async () => {
  const tag = `lease${process.pid}`;
  const email = sql(`INSERT INTO email_outbox (to_addr, subject, text_body, message_id)
    VALUES ('late@example.com', 'Reclaimed ${tag}', 'body', 'ml.${tag}') RETURNING id`);
  const job = sql(`INSERT INTO jobs (kind, payload, state, attempts, locked_by, locked_until)
    VALUES ('email.send', '{"email_id": ${email}}', 'running', 1, 'dead-node:1:0', now() + interval '2 seconds')
    RETURNING id`);
  await sleep(1000);
  assert.ok(!sink.messages.some((m) => m.subject.includes(tag)), 'a live lease must not be taken over');
  assert.strictEqual(sql(`SELECT state || ' ' || locked_by FROM jobs WHERE id = ${job}`), 'running dead-node:1:0');
  const m = await sink.waitFor((x) => x.subject.includes(tag), 10000);
  assert.deepStrictEqual(m.to, ['late@example.com']);
  assert.strictEqual(m.headers['message-id'], `<ml.${tag}@mentorlink.localhost>`);
  await waitSql(`SELECT state || ' ' || attempts || ' ' || coalesce(locked_by, '-') FROM jobs WHERE id = ${job}`, 'done 2 -');
  assert.match(d.logs(), /lease of dead-node:1:0 expired; taking it over/);
});

test('HTML, a UTF-8 name and an .ics attachment arrive as multipart MIME', async () => {
  const tag = `mime${process.pid}`;
  const ics = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Séance\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  const bin = Buffer.from([0, 1, 2, 255, 254, 13, 10, 46, 13, 10]);
  const email = sql(`INSERT INTO email_outbox (to_addr, to_name, subject, text_body, html_body, message_id)
    VALUES ('ann@example.com', 'Ann Ærø', 'Invitation ${tag}', E'Plain\\n.\\n..dots\\n',
            '<p>Héllo <b>Ann</b></p>', 'ml.${tag}') RETURNING id`);
  sql(`INSERT INTO email_attachments (email_id, position, filename, content_type, data) VALUES
    (${email}, 0, 'invite.ics', 'text/calendar; method=REQUEST; charset=utf-8', decode('${Buffer.from(ics).toString('base64')}', 'base64')),
    (${email}, 1, 'blob.bin', 'application/octet-stream', decode('${bin.toString('base64')}', 'base64'))`);
  sql(`INSERT INTO jobs (kind, payload) VALUES ('email.send', '{"email_id": ${email}}'); NOTIFY ml_jobs`);
  const m = await sink.waitFor((x) => x.subject === `Invitation ${tag}`, 10000);
  assert.deepStrictEqual(m.structure, ['multipart/mixed', '  multipart/alternative', '    text/plain',
    '    text/html', '  text/calendar', '  application/octet-stream']);
  assert.strictEqual(m.text, 'Plain\r\n.\r\n..dots\r\n');
  assert.strictEqual(m.html, '<p>Héllo <b>Ann</b></p>');
  assert.match(m.headers.to, /^=\?UTF-8\?B\?[^?]+\?= <ann@example\.com>$/);
  assert.strictEqual(m.attachments[0].filename, 'invite.ics');
  assert.strictEqual(m.attachments[0].content.toString('utf8'), ics);
  assert.deepStrictEqual(m.attachments[1].content, bin);
});

test('a new job wakes a sleeping worker at once (LISTEN/NOTIFY, not polling)', async () => {
  const s2 = await startSmtpSink();
  const d2 = await startDaemon({ config: { smtp_url: s2.url, job_poll_ms: 60000, support_email: 'support@example.com' } });
  try {
    await sleep(1500); // the workers are asleep in their 60 s poll
    const t0 = Date.now();
    const { token, res } = contact(d2);
    assert.strictEqual((await res).status, 202);
    await s2.waitFor((x) => x.subject.includes(token), 5000);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `delivered after ${ms} ms`);
  } finally {
    await d2.stop();
    await s2.stop();
  }
});

test('without smtp_url, emails are written as .eml files under data_dir/mail', async () => {
  const d3 = await startDaemon({ config: { job_poll_ms: 100 } });
  try {
    const { token, res } = contact(d3);
    assert.strictEqual((await res).status, 202);
    const dir = path.join(d3.config.data_dir, 'mail');
    let file;
    await waitFor(() => {
      file = fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.endsWith('.eml'));
      return Boolean(file);
    }, 10000, 'an .eml file');
    assert.match(file, /^\d{8}T\d{6}Z-\d+\.eml$/);
    const raw = fs.readFileSync(path.join(dir, file), 'utf8');
    assert.match(raw, /^Date: /);
    assert.match(raw, /\r\nTo: no-reply@mentorlink\.localhost\r\n/); // support_email empty: smtp_from
    assert.ok(raw.includes(token.slice(0, 3)) || raw.includes('=?UTF-8?B?'));
    await waitFor(() => /email written to .*\.eml/.test(d3.logs()), 5000, 'the log line');
  } finally {
    await d3.stop();
  }
});
