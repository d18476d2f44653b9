// Provider events and failures against a real daemon and the real mlfakepay
// it spawns: replayed events (same id) and forged ones (bad signature,
// unknown secret, missing header) change nothing; a signature older than
// 300 s is refused (fakepay resend?t=); several secrets are accepted
// (rotation); out-of-order and duplicated deliveries converge; a provider
// 500 or timeout gives a clear 5xx problem and a pending_provider payment
// that the reconcile job completes, charging once. After every test the
// ledger sums to zero and no user balance is negative. Money routes are
// rate limited per user.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const P = require('./lib/payments');

const ROTATED = 'whsec_rotated_old_secret_for_tests';
let t, secret;
test.before(async () => {
  t = await P.start({ config: { payments_webhook_secrets: `whsec_unused, ${ROTATED}`, payments_rate_per_minute: 5 } });
  const keys = fs.readFileSync(path.join(t.d.config.data_dir, 'fakepay', 'keys'), 'utf8').split('\n');
  secret = keys[1];
  assert.match(secret, /^whsec_/);
});
test.after(async () => { if (t) await t.stop(); });
test.afterEach(async () => {
  if (!t) return;
  await t.fakepay('POST', '/_fakepay/config', { duplicate_webhooks: false, reorder_webhooks: false, fail_next: { count: 0, status: 500 } });
  await t.assertLedger();
});

const sign = (body, secrets, ts = Math.floor(Date.now() / 1000)) =>
  `t=${ts},` + secrets.map((s) => 'v1=' + crypto.createHmac('sha256', s).update(`${ts}.${body}`).digest('hex')).join(',');
const post = (body, sig) => fetch(t.d.baseUrl + '/api/v1/payments/webhook', { method: 'POST',
  headers: { 'content-type': 'application/json', ...(sig ? { 'stripe-signature': sig } : {}) }, body });
const payment = async (u, id) => (await t.api('GET', `/api/v1/payments/${id}`, { token: u.access })).body;
const bstatus = async (u, id) => (await t.api('GET', `/api/v1/bookings/${id}`, { token: u.access })).body.status;
const checkout = (pay, card) => fetch(`${t.fakepayUrl}/checkout/${pay.provider_intent_id}`, { method: 'POST', redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: `card_number=${card}&client_secret=${encodeURIComponent(pay.client_secret)}` });
const lastDelivery = (ev) => ev.deliveries[ev.deliveries.length - 1];

test('forged, unsigned and stale webhooks change nothing; genuine and rotated secrets are accepted', async () => {
  const m = await t.mentor({ price_cents: 1800 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  const pi = r.body.provider_intent_id;
  const forged = (id) => JSON.stringify({ id, object: 'event', type: 'payment_intent.succeeded', created: 1, api_version: '2024-06-20', livemode: false,
    data: { object: { id: pi, object: 'payment_intent', amount: 1800, amount_received: 1800, currency: 'eur', status: 'succeeded',
      metadata: { payment_id: String(r.body.id) } } } });
  const attempts = [
    ['missing header', await post(forged('evt_forged_1'), null)],
    ['garbled header', await post(forged('evt_forged_2'), 'nonsense')],
    ['bad signature', await post(forged('evt_forged_3'), `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`)],
    ['unknown secret', await post(forged('evt_forged_4'), sign(forged('evt_forged_4'), ['whsec_attacker']))],
    ['body changed after signing', await post(forged('evt_forged_5'), sign(forged('evt_forged_5x'), [secret]))],
    ['older than 300 s', await post(forged('evt_forged_6'), sign(forged('evt_forged_6'), [secret], Math.floor(Date.now() / 1000) - 301))],
    ['in the future', await post(forged('evt_forged_7'), sign(forged('evt_forged_7'), [secret], Math.floor(Date.now() / 1000) + 400))],
  ];
  for (const [what, res] of attempts) {
    assert.strictEqual(res.status, 400, what);
    const body = await res.json();
    assert.match(body.type, /invalid-signature/, what);
  }
  // (genuine events from the provider, e.g. this intent's creation, may arrive meanwhile)
  assert.strictEqual(await t.num("SELECT count(*) FROM pay_webhook_events WHERE id LIKE 'evt_forged%'"), 0, 'no forged event recorded');
  assert.strictEqual((await payment(u, r.body.id)).status, 'requires_payment_method');
  assert.strictEqual(await bstatus(u, b.id), 'held');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 0);
  // Several v1 values, one of them under a rotated (configured) secret: accepted.
  const ok = JSON.stringify({ id: 'evt_rotated_1', object: 'event', type: 'charge.refunded', data: { object: { id: 'ch_1', object: 'charge' } } });
  const res = await post(ok, sign(ok, ['whsec_attacker', ROTATED]));
  assert.strictEqual(res.status, 200);
  assert.deepStrictEqual(await res.json(), { received: true, duplicate: false, handled: false });
  const again = await post(ok, sign(ok, [ROTATED]));
  assert.strictEqual((await again.json()).duplicate, true);
  // Bad JSON under a good signature: 400, nothing stored.
  const bad = '{"id": "evt_x", "type": ';
  assert.strictEqual((await post(bad, sign(bad, [secret]))).status, 400);
});

test('a replayed event (same id) changes nothing; a resend with t older than 300 s is refused', async () => {
  const m = await t.mentor({ price_cents: 2200 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201);
  const c = await checkout(r.body, '4242424242424242');
  assert.ok([200, 303].includes(c.status));
  await t.waitFor(async () => (await bstatus(u, b.id)) === 'confirmed', 15000, 'confirmation by webhook');
  const evs = await t.events();
  const ev = evs.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === r.body.provider_intent_id);
  assert.ok(ev);
  await t.waitFor(async () => (await t.events()).find((e) => e.id === ev.id).deliveries.length >= 1, 10000, 'delivery');
  const ledger = await t.num('SELECT count(*) FROM pay_entries');
  // Replay: same id, fresh signature -> 200 duplicate, no change.
  const rs = await t.fakepay('POST', `/_fakepay/events/${ev.id}/resend`);
  assert.strictEqual(rs.status, 200, JSON.stringify(rs.body));
  await t.waitFor(async () => {
    const e = (await t.events()).find((x) => x.id === ev.id);
    return e.deliveries.length >= 2 && e.deliveries.every((d) => d.status === 200);
  }, 10000, 'the replay to be acknowledged');
  assert.strictEqual(await t.num('SELECT count(*) FROM pay_entries'), ledger);
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 1);
  // Stale: signed 301 s ago -> refused (400) every time; the provider gives up.
  const old = Math.floor(Date.now() / 1000) - 301;
  const st = await t.fakepay('POST', `/_fakepay/events/${ev.id}/resend?t=${old}`);
  assert.strictEqual(st.status, 200, JSON.stringify(st.body));
  await t.waitFor(async () => {
    const e = (await t.events()).find((x) => x.id === ev.id);
    return e.deliveries.length >= 3 && lastDelivery(e).status === 400 && lastDelivery(e).signed_t === old;
  }, 20000, 'the stale resend to be refused', async () => JSON.stringify({
    deliveries: (await t.events()).find((x) => x.id === ev.id).deliveries,
    daemon: t.d.logs().split('\n').filter((l) => /webhook|payments/.test(l)).slice(-8),
  }));
  assert.strictEqual(await t.num('SELECT count(*) FROM pay_entries'), ledger);
  assert.ok(t.d.logs().includes('outside the tolerance'));
});

test('out-of-order and duplicated deliveries converge (payment and refund)', async () => {
  await t.fakepay('POST', '/_fakepay/config', { duplicate_webhooks: true, reorder_webhooks: true });
  const m = await t.mentor({ price_cents: 2600 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201);
  // A declined attempt, then a good card: payment_failed and succeeded are
  // delivered newest first, each twice.
  const d1 = await checkout(r.body, '4000000000000002');
  assert.ok(d1.status < 500);
  const d2 = await checkout(r.body, '4242424242424242');
  assert.ok([200, 303].includes(d2.status), `second checkout ${d2.status}`);
  await t.waitFor(async () => (await payment(u, r.body.id)).status === 'succeeded', 20000, 'the payment to succeed');
  await t.waitFor(async () => {
    const evs = (await t.events()).filter((e) => e.data.object.id === r.body.provider_intent_id);
    return evs.length >= 3 && evs.every((e) => e.deliveries.length >= 2);
  }, 20000, 'every event delivered twice');
  assert.strictEqual(await bstatus(u, b.id), 'confirmed');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 1, 'booked once');
  // The provider really sent them out of order: succeeded before payment_failed.
  const evs = (await t.events()).filter((e) => e.data.object.id === r.body.provider_intent_id);
  const first = (type) => Math.min(...evs.filter((e) => e.type === type).flatMap((e) => e.deliveries.map((d) => d.at_ms)));
  assert.ok(first('payment_intent.succeeded') <= first('payment_intent.payment_failed'), 'delivered newest first');
  assert.ok(evs.every((e) => e.deliveries.filter((d) => d.status === 200).length >= 2), 'each delivered twice');
  // Refund with refund.updated (succeeded) delivered before refund.created (pending).
  const c = await t.api('POST', `/api/v1/bookings/${b.id}/cancel`, { token: u.access });
  assert.strictEqual(c.status, 200);
  await t.waitFor(async () => (await payment(u, r.body.id)).refund?.status === 'succeeded', 20000, 'the refund');
  await new Promise((res) => setTimeout(res, 1500)); // late duplicates
  assert.strictEqual((await payment(u, r.body.id)).refund.status, 'succeeded');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 2, 'charge and one refund');
});

test('provider 500 or timeout: a clear 5xx problem, a retryable pending payment, reconciled later, charged once', async () => {
  for (const failure of [500, 'timeout']) {
    const m = await t.mentor({ price_cents: 1300 });
    const u = await t.user();
    const b = await t.book(u, m);
    await t.fakepay('POST', '/_fakepay/config', { fail_next: { count: 1, status: failure } });
    const key = `fail-${failure}-${b.id}`;
    const r = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' }, key);
    assert.ok([502, 503].includes(r.status), `${failure}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get('content-type'), /problem\+json/);
    assert.match(r.body.type, /payment-provider-unavailable/);
    assert.strictEqual(r.body.payment_status, 'pending_provider');
    assert.strictEqual(r.body.retryable, true);
    assert.ok(r.headers.get('retry-after'));
    // Until the reconcile job (queued with the payment) gets an answer, no
    // money is recorded and the seat stays held; read all three at once, as
    // on a loaded machine the job may already have run.
    const snap = (await t.sql(`SELECT p.status || ' ' || (SELECT count(*) FROM pay_transactions x WHERE x.payment_id = p.id) || ' ' || b.status
      FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.id = ${r.body.payment_id}`)).trim();
    // The job may be half-way (intent created, not yet confirmed: still no
    // money and a held seat) — anything but success must look like that.
    const [pst, nmoney, bst] = snap.split(' ');
    if (pst === 'succeeded') assert.strictEqual(`${nmoney} ${bst}`, '1 confirmed', snap);
    else assert.ok(['pending_provider', 'requires_payment_method', 'requires_confirmation', 'processing'].includes(pst) && nmoney === '0' && bst === 'held', snap);
    // The reconcile job asks again with the same provider key.
    await t.waitFor(async () => (await payment(u, r.body.payment_id)).status === 'succeeded', 30000, `${failure}: reconciliation`);
    assert.strictEqual(await bstatus(u, b.id), 'confirmed');
    // The client retrying with its key now gets the final answer; still one intent.
    const again = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' }, key);
    assert.strictEqual(again.status, 200, JSON.stringify(again.body));
    assert.strictEqual(again.body.status, 'succeeded');
    const created = (await t.events()).filter((e) => e.type === 'payment_intent.created' && e.data.object.metadata.payment_id === String(r.body.payment_id));
    assert.strictEqual(created.length, 1, `${failure}: one intent at the provider`);
    assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.payment_id}`), 1);
  }
});

test('money routes are rate limited per user (429 with Retry-After), other users unaffected', async () => {
  const u = await t.user();
  const rs = [];
  for (let i = 0; i < 7; i++) rs.push(await t.buyCredits(u, 100));
  assert.deepStrictEqual(rs.map((r) => r.status), [201, 201, 201, 201, 201, 429, 429]);
  assert.ok(Number(rs[6].headers.get('retry-after')) >= 1);
  assert.match(rs[6].headers.get('content-type'), /problem\+json/);
  assert.strictEqual(await t.balance(u), 500);
  const v = await t.user();
  assert.strictEqual((await t.buyCredits(v, 100)).status, 201);
});
