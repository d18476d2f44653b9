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
const http = require('http');
const net = require('net');
const path = require('path');
const { spawnSync } = require('child_process');
const { startFakepay, startWebhookReceiver, fakepayBin } = require('./lib/fakepay');
const { launchBrowser } = require('./lib/browser');
const { tmpDir } = require('./lib/servers');

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
    async done() {
      try { await fp.stop(); } finally { await rx.close(); }
    },
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
    const t0 = Date.now();
    const r = await createIntent(fp, { payment_method: 'pm_card_processing', confirm: 'true' });
    assert.strictEqual(r.body.status, 'processing');
    await until(async () => (await fp.api('GET', `/v1/payment_intents/${r.body.id}`)).body.status === 'succeeded',
      20000, 'processing to finish');
    assert.ok(Date.now() - t0 >= 950, 'settles about a second after confirm, not at once');
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

test('update: metadata merges (empty removes), amount and payment method only before paying', async () => {
  const { fp, done } = await setup();
  try {
    const pi = (await createIntent(fp, { metadata: { a: '1', b: '2' } })).body;
    let r = await fp.api('POST', `/v1/payment_intents/${pi.id}`, { amount: 4200, metadata: { b: '', c: '3' } });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.amount, 4200);
    assert.deepStrictEqual(r.body.metadata, { a: '1', c: '3' });
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}`, { payment_method: 'pm_card_visa' });
    assert.strictEqual(r.body.status, 'requires_confirmation');
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}/confirm`);
    assert.strictEqual(r.body.status, 'succeeded');
    assert.strictEqual(r.body.amount_received, 4200);
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}`, { amount: 1 });
    assert.strictEqual(r.status, 400);
    assert.strictEqual(r.body.error.code, 'payment_intent_unexpected_state');
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}`, { metadata: { refunded_by: 'admin' } });
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.body.metadata.refunded_by, 'admin');
    const many = {};
    for (let i = 0; i < 49; i++) many['k' + i] = 'v';
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}`, { metadata: many });
    assert.strictEqual(r.status, 400);
    assert.strictEqual((await fp.api('GET', `/v1/payment_intents/${pi.id}`)).body.metadata.k0, undefined);
    r = await fp.api('POST', '/v1/payment_intents/pi_nope', { amount: 5 });
    assert.strictEqual(r.status, 404);
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

test('refunds: pending then succeeded exactly once, partial and full, amount checks, forced failure', async () => {
  const { fp, rx, done } = await setup();
  try {
    const pi = (await createIntent(fp, { payment_method: 'pm_card_visa', confirm: 'true' })).body;
    assert.strictEqual(pi.status, 'succeeded');
    let r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 300, metadata: { why: 'late' } });
    assert.strictEqual(r.status, 200, r.text);
    const re = r.body;
    assert.match(re.id, /^re_/);
    assert.strictEqual(re.object, 'refund');
    assert.strictEqual(re.status, 'pending');
    assert.strictEqual(re.amount, 300);
    assert.strictEqual(re.currency, 'usd');
    assert.strictEqual(re.payment_intent, pi.id);
    await until(async () => (await fp.api('GET', `/v1/refunds/${re.id}`)).body.status === 'succeeded', 10000, 'refund');
    r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 701 });
    assert.strictEqual(r.status, 400);
    assert.strictEqual(r.body.error.code, 'amount_too_large');
    r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 200, metadata: { fakepay_fail: '1' } });
    assert.strictEqual(r.body.status, 'pending');
    const failing = r.body.id;
    await until(async () => (await fp.api('GET', `/v1/refunds/${failing}`)).body.status === 'failed', 10000, 'failure');
    r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id }); // default: all that is left
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.amount, 700);
    const rest = r.body.id;
    r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id });
    assert.strictEqual(r.status, 400);
    assert.strictEqual(r.body.error.code, 'charge_already_refunded');
    await until(async () => (await fp.api('GET', `/v1/refunds/${rest}`)).body.status === 'succeeded', 10000, 'refund 2');
    await sleep(700); // time for any repeated settlement to show
    const refundEvents = (id) => rx.received.filter((w) => w.body.data.object.id === id).map((w) => `${w.body.type}:${w.body.data.object.status}`);
    await rx.waitFor(() => rx.received.filter((w) => w.body.type === 'charge.refunded').length >= 2);
    assert.deepStrictEqual(refundEvents(re.id), ['refund.created:pending', 'refund.updated:succeeded']);
    assert.deepStrictEqual(refundEvents(failing), ['refund.created:pending', 'refund.updated:failed']);
    assert.deepStrictEqual(refundEvents(rest), ['refund.created:pending', 'refund.updated:succeeded']);
    const charges = rx.received.filter((w) => w.body.type === 'charge.refunded').map((w) => w.body.data.object);
    assert.strictEqual(charges.length, 2);
    assert.deepStrictEqual(charges.map((c) => c.amount_refunded), [300, 1000]);
    assert.deepStrictEqual(charges.map((c) => c.refunded), [false, true]);
    assert.strictEqual(charges[0].payment_intent, pi.id);
    // refunds of an unpaid or unknown intent
    const unpaid = (await createIntent(fp)).body;
    r = await fp.api('POST', '/v1/refunds', { payment_intent: unpaid.id });
    assert.strictEqual(r.status, 400);
    r = await fp.api('POST', '/v1/refunds', { payment_intent: 'pi_nope' });
    assert.strictEqual(r.status, 404);
    r = await fp.api('GET', '/v1/refunds/re_nope');
    assert.strictEqual(r.status, 404);
    assert.strictEqual(r.body.error.code, 'resource_missing');
  } finally { await done(); }
});

test('webhook retries: the receiver answers 500 then 200; back-off between attempts; log records both', async () => {
  let first = true;
  const { fp, rx, done } = await setup({
    respond: (rec) => {
      if (rec.body && rec.body.type === 'payment_intent.created' && first) { first = false; return 500; }
      return undefined;
    },
  });
  try {
    const pi = (await createIntent(fp)).body;
    await rx.waitFor((l) => l.filter((w) => w.body.type === 'payment_intent.created').length >= 2);
    const tries = rx.received.filter((w) => w.body.type === 'payment_intent.created');
    assert.strictEqual(tries[0].body.id, tries[1].body.id);
    assert.deepStrictEqual(tries.map((w) => w.status), [500, 200]);
    assert.ok(tries[1].at - tries[0].at >= 400, `retry came after ${tries[1].at - tries[0].at} ms`);
    assert.ok(tries.every((w) => w.valid));
    const ev = await until(async () => (await fp.events()).find((e) => e.data.object.id === pi.id && e.delivered));
    assert.deepStrictEqual(ev.deliveries.map((d) => [d.attempt, d.status]), [[1, 500], [2, 200]]);
    assert.strictEqual(ev.deliveries[0].will_retry, true);
  } finally { await done(); }
});

test('webhook retries: a timeout counts as a failure and the back-off grows', async () => {
  // the first attempt gets no answer (mlfakepay gives up after 5 s), the next ones a 503
  const { fp, rx, done } = await setup({ respond: (rec, i) => (i === 0 ? 'hang' : 503) });
  try {
    await createIntent(fp);
    // 0.5+1+2+4+8+16+32 s of back-off would be too long for a test: check the first attempts and growth
    await rx.waitFor((l) => l.length >= 5, 40000);
    const r = rx.received;
    assert.ok(r[1].at - r[0].at >= 4500, `timed out after ${r[1].at - r[0].at} ms`);
    const gaps = r.slice(2, 5).map((w, i) => w.at - r[i + 1].at);
    assert.ok(gaps[1] > gaps[0] && gaps[2] > gaps[1], `back-off grows: ${gaps}`);
    assert.ok(r.every((w) => w.body.id === r[0].body.id));
    const ev = await until(async () => {
      const e = (await fp.events())[0];
      return e.deliveries.length >= 4 && e;
    });
    assert.strictEqual(ev.deliveries[0].error, 'timeout');
    assert.strictEqual(ev.deliveries[0].status, null);
    assert.ok(ev.deliveries.slice(1).every((d) => d.status === 503));
    assert.ok(ev.deliveries.every((d) => d.will_retry));
    assert.strictEqual(ev.delivered, false);
  } finally { await done(); }
});

test('duplicate, reordered and delayed webhooks are switchable', async () => {
  const { fp, rx, done } = await setup();
  try {
    let cfg = await fp.config({ duplicate_webhooks: true });
    assert.strictEqual(cfg.duplicate_webhooks, true);
    const a = (await createIntent(fp)).body;
    await rx.waitFor((l) => l.length >= 2);
    await sleep(300);
    assert.strictEqual(rx.received.length, 2);
    assert.strictEqual(rx.received[0].body.id, rx.received[1].body.id);
    assert.strictEqual(rx.received[0].body.data.object.id, a.id);

    await fp.config({ duplicate_webhooks: false, reorder_webhooks: true });
    rx.received.length = 0;
    const b = (await createIntent(fp, { payment_method: 'pm_card_visa', confirm: 'true' })).body;
    await rx.waitFor((l) => l.length >= 2);
    assert.deepStrictEqual(rx.received.map((w) => w.body.type), ['payment_intent.succeeded', 'payment_intent.created']);
    assert.ok(rx.received.every((w) => w.body.data.object.id === b.id));
    assert.ok(rx.received[0].body.created >= rx.received[1].body.created);

    cfg = await fp.config({ reorder_webhooks: false, webhook_delay_ms: 1200 });
    assert.strictEqual(cfg.webhook_delay_ms, 1200);
    rx.received.length = 0;
    const t0 = Date.now();
    await createIntent(fp);
    await rx.waitFor((l) => l.length >= 1);
    assert.ok(rx.received[0].at - t0 >= 1000, `delivered after ${rx.received[0].at - t0} ms`);
    await fp.config({ webhook_delay_ms: 0 });
    // in-order again
    rx.received.length = 0;
    await createIntent(fp, { payment_method: 'pm_card_visa', confirm: 'true' });
    await rx.waitFor((l) => l.length >= 2);
    assert.deepStrictEqual(rx.received.map((w) => w.body.type), ['payment_intent.created', 'payment_intent.succeeded']);
  } finally { await done(); }
});

test('webhook secrets and URLs can be changed at run time; a wrong secret fails verification', async () => {
  const { fp, rx, done } = await setup();
  const rx2 = await startWebhookReceiver({ secrets: ['whsec_other'] });
  try {
    const cfg = await fp.config({ webhook_secrets: ['whsec_unknown'], webhook_urls: [rx.url, rx2.url] });
    assert.deepStrictEqual(cfg.webhook_urls, [rx.url, rx2.url]);
    await createIntent(fp);
    await rx.waitFor((l) => l.length >= 1);
    assert.strictEqual(rx.received[0].valid, false);
    assert.deepStrictEqual(rx.received[0].validFor, []);
    await fp.config({ webhook_secrets: ['whsec_other'] });
    await createIntent(fp);
    await rx2.waitFor((l) => l.some((w) => w.valid));
  } finally { await rx2.close(); await done(); }
});

test('fail_next: 500 api_error or a hang for the next n API requests only', async () => {
  const { fp, done } = await setup();
  try {
    await fp.config({ fail_next: { count: 2, status: 500 } });
    for (let i = 0; i < 2; i++) {
      const r = await createIntent(fp);
      assert.strictEqual(r.status, 500);
      assert.strictEqual(r.body.error.type, 'api_error');
    }
    // test control and pages are not counted
    assert.strictEqual((await fetch(fp.url + '/_fakepay/healthz')).status, 200);
    assert.strictEqual((await createIntent(fp)).status, 200);
    await fp.config({ fail_next: { count: 1, status: 'timeout' } });
    const t0 = Date.now();
    const r = await createIntent(fp, {}, { signal: AbortSignal.timeout(1500) }).catch((e) => e);
    assert.ok(r instanceof Error, 'no answer');
    assert.ok(Date.now() - t0 >= 1400);
    assert.strictEqual((await createIntent(fp)).status, 200);
    assert.strictEqual((await fp.events()).filter((e) => e.type === 'payment_intent.created').length, 2);
  } finally { await done(); }
});

test('resend: same event id with a fresh signature, or signed with a chosen (stale) timestamp', async () => {
  const { fp, rx, done } = await setup();
  try {
    await createIntent(fp);
    await rx.waitFor((l) => l.length >= 1);
    const evt = rx.received[0].body.id;
    const old = Math.floor(Date.now() / 1000) - 3600;
    await fp.resend(evt, old);
    await rx.waitFor((l) => l.length >= 2);
    assert.strictEqual(rx.received[1].body.id, evt);
    assert.strictEqual(rx.received[1].t, old);
    assert.deepStrictEqual(rx.received[1].validFor, [0, 1]); // signature right ...
    assert.strictEqual(rx.received[1].valid, false); // ... but outside the tolerance
    assert.strictEqual(rx.received[1].raw, rx.received[0].raw);
    await fp.resend(evt);
    await rx.waitFor((l) => l.length >= 3);
    assert.strictEqual(rx.received[2].valid, true);
    assert.ok(rx.received[2].t >= rx.received[0].t);
    const ev = await until(async () => {
      const e = (await fp.events()).find((x) => x.id === evt);
      return e.deliveries.length === 3 && e;
    });
    assert.deepStrictEqual(ev.deliveries.map((d) => d.status), [200, 400, 200]);
    assert.strictEqual(ev.deliveries[1].signed_t, old);
    const nf = await fetch(`${fp.url}/_fakepay/events/evt_nope/resend`, { method: 'POST' });
    assert.strictEqual(nf.status, 404);
  } finally { await done(); }
});

test('state survives SIGKILL and restart on the same state file', async () => {
  const dir = tmpDir('ml-fakepay-');
  const stateFile = path.join(dir, 'state.json');
  const rx = await startWebhookReceiver({ secrets: SECRETS });
  let fp = await startFakepay({ webhookUrls: [rx.url], webhookSecrets: SECRETS, stateFile });
  const secretKey = fp.secretKey;
  try {
    const paid = (await createIntent(fp, { payment_method: 'pm_card_visa', confirm: 'true' }, { idempotencyKey: 'persist-1' })).body;
    const re = (await fp.api('POST', '/v1/refunds', { payment_intent: paid.id, amount: 100 })).body;
    const open = (await createIntent(fp, { metadata: { k: 'v' } })).body;
    const proc = (await createIntent(fp, { payment_method: 'pm_card_processing', confirm: 'true' })).body;
    assert.strictEqual(proc.status, 'processing');
    const eventsBefore = (await fp.events()).map((e) => e.id);
    await fp.kill(); // no chance to save anything more
    fp = await startFakepay({ webhookUrls: [rx.url], webhookSecrets: SECRETS, stateFile, secretKey, port: fp.port });
    let r = await fp.api('GET', `/v1/payment_intents/${paid.id}`);
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.body.status, 'succeeded');
    assert.strictEqual(r.body.client_secret, paid.client_secret);
    r = await fp.api('GET', `/v1/payment_intents/${open.id}`);
    assert.deepStrictEqual(r.body.metadata, { k: 'v' });
    // the processing intent and the pending refund finish after the restart, once
    await until(async () => (await fp.api('GET', `/v1/payment_intents/${proc.id}`)).body.status === 'succeeded', 10000);
    await until(async () => (await fp.api('GET', `/v1/refunds/${re.id}`)).body.status === 'succeeded', 10000);
    r = await createIntent(fp, { payment_method: 'pm_card_visa', confirm: 'true' }, { idempotencyKey: 'persist-1' });
    assert.strictEqual(r.body.id, paid.id);
    assert.strictEqual(r.headers.get('idempotent-replayed'), 'true');
    const after = await fp.events();
    for (const id of eventsBefore) assert.ok(after.some((e) => e.id === id), `event ${id} kept`);
    await sleep(500);
    const ev = await fp.events();
    assert.strictEqual(ev.filter((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === proc.id).length, 1);
    assert.strictEqual(ev.filter((e) => e.type === 'refund.updated' && e.data.object.id === re.id).length, 1);
    // a clean stop and another start keep everything too
    await fp.stop();
    fp = await startFakepay({ webhookUrls: [rx.url], webhookSecrets: SECRETS, stateFile, secretKey, fsync: true });
    assert.strictEqual((await fp.api('GET', `/v1/refunds/${re.id}`)).body.status, 'succeeded');
    assert.strictEqual((await fp.events()).length, ev.length);
  } finally {
    try { await fp.stop(); } finally {
      await rx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('bad input: Stripe-style errors with the right status, never a crash', async () => {
  const { fp, done } = await setup();
  try {
    const cases = [
      [{ key: null }, { amount: 10, currency: 'usd' }, 401, 'api_key_invalid'],
      [{ key: 'sk_test_wrong' }, { amount: 10, currency: 'usd' }, 401, 'api_key_invalid'],
      [{ key: fp.secretKey + 'x' }, { amount: 10, currency: 'usd' }, 401, 'api_key_invalid'],
      [{}, { amount: -5, currency: 'usd' }, 400, 'amount_too_small'],
      [{}, { amount: 0, currency: 'usd' }, 400, 'amount_too_small'],
      [{}, { amount: 100000000, currency: 'usd' }, 400, 'amount_too_large'],
      [{}, { amount: '99999999999999999999999', currency: 'usd' }, 400, 'parameter_invalid_integer'],
      [{}, { amount: '12.5', currency: 'usd' }, 400, 'parameter_invalid_integer'],
      [{}, { amount: '1e3', currency: 'usd' }, 400, 'parameter_invalid_integer'],
      [{}, { amount: '', currency: 'usd' }, 400, 'parameter_missing'],
      [{}, { currency: 'usd' }, 400, 'parameter_missing'],
      [{}, { amount: 10 }, 400, 'parameter_missing'],
      [{}, { amount: 10, currency: 'xyz' }, 400, 'parameter_invalid_string'],
      [{}, { amount: 10, currency: 'USD' }, 400, 'parameter_invalid_string'],
      [{}, { amount: 10, currency: 'usd', confirm: 'yes' }, 400, 'parameter_invalid_boolean'],
      [{}, { amount: 10, currency: 'usd', bogus: 1 }, 400, 'parameter_unknown'],
      [{}, { amount: 10, currency: 'usd', payment_method: 'pm_card_amex' }, 404, 'resource_missing'],
      [{}, { amount: 10, currency: 'usd', return_url: 'javascript:x' }, 400, 'url_invalid'],
      [{}, { amount: 10, currency: 'usd', metadata: { ['k'.repeat(41)]: 'v' } }, 400, 'parameter_invalid_string'],
      [{}, { amount: 10, currency: 'usd', metadata: { k: 'v'.repeat(501) } }, 400, 'parameter_invalid_string'],
      [{ raw: 'amount=%zz&currency=usd' }, null, 400, 'parameter_invalid_encoding'],
      [{ raw: 'amount=10&currency=usd&amount=20' }, null, 400, 'parameter_invalid_encoding'],
      [{ raw: 'amount=10&currency=%FF%FE' }, null, 400, 'parameter_invalid_encoding'],
      [{ raw: 'amount=10&currency=us%00d' }, null, 400, 'parameter_invalid_encoding'],
      [{ raw: '=&=&' }, null, 400, 'parameter_invalid_encoding'],
      [{ raw: 'a=' + 'x'.repeat(70 * 1024) }, null, 413, 'request_too_large'],
    ];
    for (const [opts, params, status, code] of cases) {
      const r = await fp.api('POST', '/v1/payment_intents', params, opts);
      const label = JSON.stringify({ opts: { ...opts, raw: opts.raw && opts.raw.slice(0, 40) }, params }).slice(0, 200);
      assert.strictEqual(r.status, status, `${label}: ${r.text.slice(0, 300)}`);
      assert.ok(r.body && r.body.error, label);
      assert.strictEqual(r.body.error.code, code, label);
      assert.ok(['invalid_request_error', 'card_error', 'idempotency_error', 'api_error'].includes(r.body.error.type));
      assert.ok(r.body.error.message.length > 0);
    }
    let r = await fp.api('GET', '/v1/payment_intents/pi_doesnotexist');
    assert.strictEqual(r.status, 404);
    assert.strictEqual(r.body.error.code, 'resource_missing');
    r = await fp.api('POST', '/v1/payment_intents/pi_doesnotexist/confirm', { payment_method: 'pm_card_visa' });
    assert.strictEqual(r.status, 404);
    r = await fp.api('POST', '/v1/payment_intents/pi_doesnotexist/cancel');
    assert.strictEqual(r.status, 404);
    r = await fp.api('GET', '/v1/customers');
    assert.strictEqual(r.status, 404);
    r = await fp.api('DELETE', '/v1/payment_intents');
    assert.strictEqual(r.status, 404);
    const pi = (await createIntent(fp)).body;
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}/confirm`);
    assert.strictEqual(r.status, 400);
    assert.strictEqual(r.body.error.code, 'payment_intent_unexpected_state');
    r = await fp.api('POST', `/v1/payment_intents/${pi.id}/cancel`, { cancellation_reason: 'bored' });
    assert.strictEqual(r.status, 400);
    r = await fp.api('POST', '/v1/refunds', { payment_intent: pi.id, amount: 'x' });
    assert.strictEqual(r.status, 400);
    r = await fp.api('POST', '/v1/payment_intents', { amount: 10, currency: 'usd' }, { idempotencyKey: 'k'.repeat(300) });
    assert.strictEqual(r.status, 400);
    // Basic auth as Stripe's curl examples use it (-u sk_test_...:)
    const basic = (k) => ({ Authorization: 'Basic ' + Buffer.from(k + ':').toString('base64') });
    r = await fetch(`${fp.url}/v1/payment_intents/${pi.id}`, { headers: basic(fp.secretKey) });
    assert.strictEqual(r.status, 200);
    r = await fetch(`${fp.url}/v1/payment_intents/${pi.id}`, { headers: basic('sk_test_other') });
    assert.strictEqual(r.status, 401);
    r = await fetch(`${fp.url}/v1/payment_intents/${pi.id}`, { headers: { Authorization: 'Basic %%%%' } });
    assert.strictEqual(r.status, 401);
    // a chunked body is refused with 411 and the connection closed
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request(`${fp.url}/v1/payment_intents`, { method: 'POST', headers: {
        Authorization: `Bearer ${fp.secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded' } }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(b) }));
      });
      req.on('error', reject);
      req.write('amount=10&');
      req.end('currency=usd');
    });
    assert.strictEqual(chunked.status, 411);
    assert.strictEqual(chunked.body.error.code, 'length_required');
    // test control
    const post = (p, body) => fetch(fp.url + p, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    for (const body of ['{', '[]', '{"fail_next":{"count":-1}}', '{"fail_next":{"count":1,"status":404}}',
      '{"webhook_urls":["http://10.0.0.1/x"]}', '{"webhook_urls":["file:///etc/passwd"]}',
      '{"webhook_delay_ms":"soon"}', '{"nope":true}', '{"duplicate_webhooks":1}']) {
      const c = await post('/_fakepay/config', body);
      assert.strictEqual(c.status, 400, body);
      assert.ok((await c.json()).error, body);
    }
    const cfg = await fp.config();
    assert.strictEqual(cfg.fail_next.count, 0);
    assert.strictEqual(cfg.webhook_urls.length, 1);
    r = await fetch(`${fp.url}/_fakepay/events/x/resend?t=abc`, { method: 'POST' });
    assert.strictEqual(r.status, 404);
    // pages
    r = await fetch(`${fp.url}/checkout/pi_nope?client_secret=x`);
    assert.strictEqual(r.status, 404);
    r = await fetch(`${fp.url}/authenticate/${pi.id}`);
    assert.strictEqual(r.status, 400);
    r = await fetch(`${fp.url}/authenticate/${pi.id}`, { method: 'POST', body: 'action=%zz',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.strictEqual(r.status, 400);
    // garbage on the socket: malformed request lines, huge headers, a lying Content-Length
    const raw = (bytes) => new Promise((resolve) => {
      const sock = net.connect(fp.port, '127.0.0.1', () => sock.end(bytes));
      let got = '';
      sock.on('data', (d) => { got += d; });
      sock.on('error', () => resolve(got));
      sock.on('close', () => resolve(got));
      setTimeout(() => { sock.destroy(); resolve(got); }, 3000);
    });
    await raw(Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]));
    await raw('GET /' + 'a'.repeat(20000) + ' HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw('POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'b'.repeat(20000) + '\r\n\r\n');
    await raw('POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\namount=1');
    await raw('POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n');
    await raw('GARBAGE\r\n\r\n');
    // still alive and consistent
    assert.strictEqual((await fetch(fp.url + '/_fakepay/healthz')).status, 200);
    assert.strictEqual((await fp.events()).filter((e) => e.type === 'payment_intent.created').length, 1);
  } finally { await done(); }
});

test('command line: only loopback addresses, required options, SIGTERM exits 0', async () => {
  const bin = fakepayBin();
  const run = (args) => spawnSync(bin, args, { encoding: 'utf8', timeout: 10000 });
  let r = run(['--listen', '0.0.0.0:0', '--secret-key', 'sk_test_12345678']);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /loopback/);
  r = run(['--listen', '127.0.0.1:0', '--secret-key', 'sk_test_12345678', '--webhook-url', 'http://example.com/hook']);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /loopback/);
  r = run(['--listen', '127.0.0.1:0']);
  assert.notStrictEqual(r.status, 0);
  r = run(['--listen', '127.0.0.1:99999', '--secret-key', 'sk_test_12345678']);
  assert.notStrictEqual(r.status, 0);
  const dir = tmpDir('ml-fakepay-');
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 99}');
  r = run(['--listen', '127.0.0.1:0', '--secret-key', 'sk_test_12345678', '--state-file', path.join(dir, 'bad.json')]);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /state/);
  r = run(['--listen', '127.0.0.1:0', '--secret-key', 'sk_test_12345678', '--state-file', path.join(dir, 'no', 'such', 'dir.json')]);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /cannot write the state file/);
  fs.rmSync(dir, { recursive: true, force: true });
  const fp = await startFakepay({ publicUrl: 'http://127.0.0.1:1/' });
  const pi = (await fp.api('POST', '/v1/payment_intents',
    { amount: 5, currency: 'jpy', payment_method: 'pm_card_authenticationRequired', confirm: 'true' })).body;
  assert.strictEqual(pi.next_action.redirect_to_url.url, `http://127.0.0.1:1/authenticate/${pi.id}`);
  const res = await fp.stop();
  assert.strictEqual(res.code, 0);
});

test('--die-with-parent: mlfakepay stops when the process that started it is killed', async () => {
  const { spawn } = require('child_process');
  const sh = spawn('sh', ['-c', `'${fakepayBin()}' --listen 127.0.0.1:0 --secret-key sk_test_parentdeath --die-with-parent & echo "pid $!"; wait`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let pid = 0;
  sh.stdout.on('data', (d) => { out += d; });
  try {
    const deadline = Date.now() + 20000;
    while (!/listening on/.test(out) && Date.now() < deadline) await sleep(50);
    assert.match(out, /listening on/);
    pid = Number(out.match(/pid (\d+)/)[1]);
    assert.ok(fs.existsSync(`/proc/${pid}`));
    sh.kill('SIGKILL');
    const gone = Date.now() + 10000;
    // A zombie until reaped by init counts as gone: look at its state.
    const alive = () => {
      try { return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
    };
    while (alive() && Date.now() < gone) await sleep(50);
    assert.ok(!alive(), 'mlfakepay still running after its parent was killed');
  } finally {
    sh.kill('SIGKILL');
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});
