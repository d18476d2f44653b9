// Payments against a real daemon, PostgreSQL, Redis and the real mlfakepay
// the daemon spawns: card payments confirm held bookings exactly once
// (same Idempotency-Key replayed, two keys racing), declines release the
// hold, credits never overdraw under 20 concurrent spends, cancellation
// refunds exactly once when retried concurrently, admin refunds, the
// statement and the daily report, and bad input answered with 4xx problems
// that store nothing. After every test the ledger sums to zero and no user
// balance is negative.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const P = require('./lib/payments');

let t;
test.before(async () => { t = await P.start(); });
test.after(async () => { if (t) await t.stop(); });
test.afterEach(async () => { if (t) await t.assertLedger(); });

const status = async (bookingId, u) => (await t.api('GET', `/api/v1/bookings/${bookingId}`, { token: u.access })).body.status;

test('card payment confirms the booking; the same Idempotency-Key replays, never charges twice', async () => {
  const m = await t.mentor({ price_cents: 2500 });
  const u = await t.user();
  const b = await t.book(u, m);
  assert.strictEqual(b.status, 'held');
  const key = 'pay-once-' + b.id;
  const body = { method: 'card', payment_method: 'pm_card_visa' };
  const [r1, r2] = await Promise.all([t.pay(u, b.id, body, key), t.pay(u, b.id, body, key)]);
  const codes = [r1.status, r2.status].sort();
  // One ran; the other either replayed its answer or was told it is still running.
  assert.ok(codes[0] === 201 && [201, 409].includes(codes[1]), JSON.stringify([r1.body, r2.body]));
  const first = r1.status === 201 ? r1 : r2;
  assert.strictEqual(first.body.status, 'succeeded', JSON.stringify(first.body));
  assert.strictEqual(first.body.amount_cents, 2500);
  assert.strictEqual(first.body.fee_cents, 250);
  const r3 = await t.pay(u, b.id, body, key);
  assert.strictEqual(r3.status, 201);
  assert.strictEqual(r3.headers.get('idempotent-replayed'), 'true');
  assert.deepStrictEqual(r3.body, first.body);
  assert.strictEqual(await status(b.id, u), 'confirmed');
  // Exactly one intent at the provider and one ledger transaction.
  const intents = (await t.events()).filter((e) => e.type === 'payment_intent.created' && e.data.object.metadata.payment_id === String(first.body.id));
  assert.strictEqual(intents.length, 1);
  assert.strictEqual(await t.num(`SELECT count(*) FROM payments WHERE booking_id = ${b.id}`), 1);
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${first.body.id}`), 1);
  const earn = await t.api('GET', '/api/v1/mentor/earnings', { token: m.access });
  assert.strictEqual(earn.status, 200);
  assert.strictEqual(earn.body.balance_cents, 2250);
  // The same key with another body is refused.
  const r4 = await t.pay(u, b.id, { method: 'credits' }, key);
  assert.strictEqual(r4.status, 422);
  assert.match(r4.body.type, /idempotency-key-reused/);
});

test('two different Idempotency-Keys racing on one booking start one payment', async () => {
  const m = await t.mentor({ price_cents: 1000 });
  const u = await t.user();
  const b = await t.book(u, m);
  const rs = await Promise.all([0, 1, 2, 3, 4].map((i) => t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' }, `race-${b.id}-${i}`)));
  for (const r of rs) assert.ok([200, 201, 409].includes(r.status), JSON.stringify(r.body));
  const ids = new Set(rs.filter((r) => r.status < 300).map((r) => r.body.id));
  assert.strictEqual(ids.size, 1, 'every answer names the same payment');
  assert.strictEqual(await t.num(`SELECT count(*) FROM payments WHERE booking_id = ${b.id}`), 1);
  await t.waitFor(async () => (await status(b.id, u)) === 'confirmed', 10000, 'confirmation');
  const [id] = ids;
  const created = (await t.events()).filter((e) => e.type === 'payment_intent.created' && e.data.object.metadata.payment_id === String(id));
  assert.strictEqual(created.length, 1, 'one intent at the provider');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${id}`), 1);
});

test('a declined card releases the hold: the slot is bookable again', async () => {
  const m = await t.mentor({ price_cents: 1500 });
  const u = await t.user();
  const n = m.nextSlot++;
  const b = await t.book(u, m, n);
  const r = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_chargeDeclined' });
  assert.strictEqual(r.status, 402, JSON.stringify(r.body));
  assert.match(r.body.type, /payment-declined/);
  assert.strictEqual(r.body.payment_status, 'failed');
  assert.strictEqual(await status(b.id, u), 'cancelled');
  const other = await t.user();
  const b2 = await t.book(other, m, n);
  assert.strictEqual(b2.status, 'held');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.payment_id}`), 0, 'no money recorded');
});

test('a card payment without a payment method returns the checkout link; confirming later converges', async () => {
  const m = await t.mentor({ price_cents: 3000 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  assert.strictEqual(r.body.status, 'requires_payment_method');
  assert.match(r.body.client_secret, /^pi_.*_secret_/);
  assert.ok(r.body.checkout_url.startsWith(t.fakepayUrl + '/checkout/' + r.body.provider_intent_id), r.body.checkout_url);
  assert.strictEqual(await status(b.id, u), 'held');
  // The browser would submit the checkout form; here the card is confirmed at the provider.
  const form = `card_number=4242424242424242&client_secret=${encodeURIComponent(r.body.client_secret)}`;
  const c = await fetch(`${t.fakepayUrl}/checkout/${r.body.provider_intent_id}`, { method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  assert.ok([200, 303].includes(c.status), `checkout answered ${c.status}`);
  await t.waitFor(async () => (await status(b.id, u)) === 'confirmed', 15000, 'the webhook to confirm the booking');
  const p = await t.api('GET', `/api/v1/payments/${r.body.id}`, { token: u.access });
  assert.strictEqual(p.body.status, 'succeeded');
  const stranger = await t.user();
  assert.strictEqual((await t.api('GET', `/api/v1/payments/${r.body.id}`, { token: stranger.access })).status, 404);
});

test('20 concurrent credit spends against one balance never overdraw', async () => {
  const price = 700;
  const m = await t.mentor({ price_cents: price });
  const u = await t.user();
  const buy = await t.buyCredits(u, 5 * price + 300);
  assert.strictEqual(buy.status, 201, JSON.stringify(buy.body));
  assert.strictEqual(buy.body.status, 'succeeded');
  assert.strictEqual(await t.balance(u), 5 * price + 300);
  const bookings = [];
  for (let i = 0; i < 20; i++) bookings.push(await t.book(u, m));
  const rs = await Promise.all(bookings.map((b) => t.pay(u, b.id, { method: 'credits' })));
  const ok = rs.filter((r) => r.status === 201);
  const poor = rs.filter((r) => r.status === 402);
  assert.strictEqual(ok.length, 5, JSON.stringify(rs.map((r) => r.status)));
  assert.strictEqual(poor.length, 15);
  for (const r of poor) assert.match(r.body.type, /insufficient-credits/);
  assert.strictEqual(await t.balance(u), 300);
  const confirmed = (await Promise.all(bookings.map((b) => status(b.id, u)))).filter((s) => s === 'confirmed');
  assert.strictEqual(confirmed.length, 5);
  // The statement lists the purchase and the five spends, newest first, paginated.
  let page = await t.api('GET', '/api/v1/credits?limit=4', { token: u.access });
  assert.strictEqual(page.status, 200);
  const items = [...page.body.items];
  while (page.body.next_cursor) {
    page = await t.api('GET', `/api/v1/credits?limit=4&cursor=${page.body.next_cursor}`, { token: u.access });
    items.push(...page.body.items);
  }
  assert.strictEqual(items.length, 6);
  assert.strictEqual(items.reduce((s, i) => s + i.amount_cents, 0), 300);
  assert.strictEqual(items[items.length - 1].kind, 'credits_purchase');
});

test('cancellation refunds exactly once, even when retried concurrently (card and credits)', async () => {
  const m = await t.mentor({ price_cents: 2000 });
  const u = await t.user();
  // Card
  const b = await t.book(u, m);
  const pay = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' });
  assert.strictEqual(pay.status, 201, JSON.stringify(pay.body));
  const rs = await Promise.all([1, 2, 3, 4, 5].map(() => t.api('POST', `/api/v1/bookings/${b.id}/cancel`, { token: u.access })));
  assert.strictEqual(rs.filter((r) => r.status === 200).length, 1, JSON.stringify(rs.map((r) => r.status)));
  assert.ok(rs.every((r) => [200, 409].includes(r.status)));
  await t.waitFor(async () => (await t.api('GET', `/api/v1/payments/${pay.body.id}`, { token: u.access })).body.refund?.status === 'succeeded', 20000, 'the card refund');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_refunds WHERE payment_id = ${pay.body.id}`), 1);
  const refunds = (await t.events()).filter((e) => e.type === 'refund.created' && e.data.object.payment_intent === pay.body.provider_intent_id);
  assert.strictEqual(refunds.length, 1, 'one refund at the provider');
  assert.strictEqual(await t.num(`SELECT count(*) FROM audit_log WHERE action = 'payment.refund_requested' AND target_id = '${pay.body.id}'`), 1);
  // Credits
  assert.strictEqual((await t.buyCredits(u, 2000)).status, 201);
  const b2 = await t.book(u, m);
  assert.strictEqual((await t.pay(u, b2.id, { method: 'credits' })).status, 201);
  assert.strictEqual(await t.balance(u), 0);
  const rs2 = await Promise.all([1, 2, 3].map(() => t.api('POST', `/api/v1/bookings/${b2.id}/cancel`, { token: u.access })));
  assert.strictEqual(rs2.filter((r) => r.status === 200).length, 1);
  assert.strictEqual(await t.balance(u), 2000, 'credits back once');
  const earn = await t.api('GET', '/api/v1/mentor/earnings', { token: m.access });
  assert.strictEqual(earn.body.balance_cents, 0, 'both bookings refunded: no earnings left');
});

test('admin refund: once, concurrently retried; report sums to zero per day', async () => {
  const admin = await t.user('admin');
  const m = await t.mentor({ price_cents: 1200 });
  const u = await t.user();
  const b = await t.book(u, m);
  const pay = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' });
  assert.strictEqual(pay.status, 201);
  const rs = await Promise.all([1, 2, 3, 4].map((i) => t.api('POST', `/api/v1/admin/payments/${pay.body.id}/refund`,
    { token: admin.access, headers: { 'idempotency-key': `adm-${pay.body.id}-${i}` } })));
  assert.strictEqual(rs.filter((r) => r.status === 201).length, 1, JSON.stringify(rs.map((r) => [r.status, r.body])));
  assert.ok(rs.every((r) => [200, 201].includes(r.status)));
  assert.ok(rs.every((r) => r.body.id === rs[0].body.id));
  assert.strictEqual((await t.api('POST', `/api/v1/admin/payments/${pay.body.id}/refund`, { token: u.access, headers: { 'idempotency-key': 'x' } })).status, 403);
  await t.waitFor(async () => (await t.api('GET', `/api/v1/payments/${pay.body.id}`, { token: admin.access })).body.refund?.status === 'succeeded', 20000, 'the admin refund');
  const day = new Date().toISOString().slice(0, 10);
  const rep = await t.api('GET', `/api/v1/admin/payments/report?from=${day}&to=${day}`, { token: admin.access });
  assert.strictEqual(rep.status, 200, JSON.stringify(rep.body));
  assert.strictEqual(rep.body.total, 0);
  assert.ok(rep.body.days.length >= 1);
  for (const dd of rep.body.days) assert.strictEqual(dd.total, 0);
  assert.ok(rep.body.days[0].accounts.card_clearing.in > 0, 'refunds went out through the card clearing');
  for (const q of ['', '?from=2026-01-02', '?from=2026-13-01&to=2026-12-01', '?from=2026-02-01&to=2026-01-01', '?from=2020-01-01&to=2026-01-01']) {
    const r = await t.api('GET', `/api/v1/admin/payments/report${q}`, { token: admin.access });
    assert.strictEqual(r.status, 400, q);
  }
  assert.strictEqual((await t.api('GET', `/api/v1/admin/payments/report?from=${day}&to=${day}`, { token: u.access })).status, 403);
});

test('bad input: 4xx problem bodies, nothing stored', async () => {
  const m = await t.mentor({ price_cents: 900 });
  const u = await t.user();
  const b = await t.book(u, m);
  const before = await t.num('SELECT count(*) FROM payments');
  const keys = await t.num('SELECT count(*) FROM idempotency_keys');
  const cases = [
    [await t.pay(u, b.id, { method: 'card' }, null), 400, /idempotency-key-missing/],
    [await t.api('POST', `/api/v1/bookings/${b.id}/pay`, { token: u.access, raw: '{"method":', headers: { 'idempotency-key': 'k1' } }), 400, null],
    [await t.pay(u, b.id, { method: 'cash' }), 422, null],
    [await t.pay(u, b.id, { method: 'card', payment_method: 'x; DROP' }), 422, null],
    [await t.pay(u, b.id, { method: 'card', amount: 5 }), 422, null],
    [await t.buyCredits(u, -500), 422, null],
    [await t.buyCredits(u, 0), 422, null],
    [await t.buyCredits(u, 1e12), 422, null],
    [await t.buyCredits(u, 12.5), 422, null],
    [await t.buyCredits(u, 1000, 'k2', { currency: 'xyz' }), 422, null],
    [await t.buyCredits(u, 1000, 'k3', { currency: 'usd' }), 422, null],
    [await t.buyCredits(u, 1000, 'x'.repeat(300)), 400, null],
    [await t.api('POST', '/api/v1/credits/purchase', { token: u.access, raw: 'not json', headers: { 'idempotency-key': 'k4' } }), 400, null],
    [await t.pay(u, 999999999, { method: 'credits' }), 404, null],
  ];
  for (const [r, code, type] of cases) {
    assert.strictEqual(r.status, code, JSON.stringify(r.body));
    assert.match(r.headers.get('content-type'), /application\/problem\+json/);
    if (type) assert.match(r.body.type, type);
  }
  // A mentor priced in another currency cannot be paid.
  const usd = await t.mentor({ price_cents: 900, currency: 'USD' });
  const bu = await t.book(u, usd);
  const r = await t.pay(u, bu.id, { method: 'card', payment_method: 'pm_card_visa' });
  assert.strictEqual(r.status, 422, JSON.stringify(r.body));
  // Free sessions are not paid.
  const free = await t.mentor({ price_cents: 0 });
  const bf = await t.book(u, free);
  assert.strictEqual(bf.status, 'confirmed');
  assert.strictEqual((await t.pay(u, bf.id, { method: 'card' })).status, 409);
  // Another user's booking is not found.
  const other = await t.user();
  assert.strictEqual((await t.pay(other, b.id, { method: 'card' })).status, 404);
  assert.strictEqual(await t.num('SELECT count(*) FROM payments'), before, 'no payment stored');
  assert.ok(await t.num('SELECT count(*) FROM idempotency_keys') <= keys + 4, 'only answered 4xx keys kept');
  assert.strictEqual(await status(b.id, u), 'held');
});

test('a payment that succeeds after the hold expired is refunded automatically', async () => {
  const m = await t.mentor({ price_cents: 1100 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  // The checkout takes longer than the hold: let the hold run out and the
  // booking's own release run.
  await t.sql(`UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = ${b.id}`);
  await t.sql('SELECT booking_release_expired()');
  assert.strictEqual(await status(b.id, u), 'expired');
  const c = await fetch(`${t.fakepayUrl}/checkout/${r.body.provider_intent_id}`, { method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `card_number=4242424242424242&client_secret=${encodeURIComponent(r.body.client_secret)}` });
  assert.ok([200, 303].includes(c.status));
  await t.waitFor(async () => (await t.api('GET', `/api/v1/payments/${r.body.id}`, { token: u.access })).body.refund?.status === 'succeeded', 20000, 'the automatic refund');
  const p = (await t.api('GET', `/api/v1/payments/${r.body.id}`, { token: u.access })).body;
  assert.strictEqual(p.status, 'succeeded');
  assert.strictEqual(p.refund.amount_cents, 1100);
  assert.strictEqual(await status(b.id, u), 'expired', 'never confirmed');
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 2, 'charge and refund');
  assert.strictEqual(await t.num(`SELECT count(*) FROM audit_log WHERE action = 'payment.refund_requested' AND target_id = '${r.body.id}' AND actor_role = 'system'`), 1);
  const earn = await t.api('GET', '/api/v1/mentor/earnings', { token: m.access });
  assert.strictEqual(earn.body.balance_cents, 0);
});

test('the embedded mlfakepay is restarted on its port when it dies, and dies with the daemon', async () => {
  const m = t.d.logs().match(/embedded mlfakepay on http:\/\/127\.0\.0\.1:\d+ \(pid (\d+)\)/);
  assert.ok(m);
  const pid = Number(m[1]);
  process.kill(pid, 'SIGKILL');
  await t.waitFor(async () => /mlfakepay restarted on port/.test(t.d.logs()), 20000, 'the restart');
  const again = await t.fakepay('GET', '/_fakepay/healthz');
  assert.strictEqual(again.status, 200);
  const mentor = await t.mentor({ price_cents: 1000 });
  const u = await t.user();
  const b = await t.book(u, mentor);
  const r = await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  assert.strictEqual(r.body.status, 'succeeded');
  // A second daemon killed with SIGKILL takes its provider with it.
  const t2 = await P.start();
  const pid2 = Number(t2.d.logs().match(/embedded mlfakepay on \S+ \(pid (\d+)\)/)[1]);
  process.kill(pid2, 0);
  await t2.d.stop({ signal: 'SIGKILL' });
  await t.waitFor(async () => { try { process.kill(pid2, 0); return false; } catch { return true; } }, 10000, 'the provider to die with its daemon');
});

test('idempotency keys expire after 24 h: the claim and the sweep job forget them', async () => {
  const u = await t.user();
  const key = 'expiring-key';
  const r1 = await t.buyCredits(u, 500, key);
  assert.strictEqual(r1.status, 201, JSON.stringify(r1.body));
  // Another body under the same key: refused while the key lives.
  assert.strictEqual((await t.buyCredits(u, 600, key)).status, 422);
  await t.sql(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = ${u.id} AND key = '${key}'`);
  const r2 = await t.buyCredits(u, 600, key);
  assert.strictEqual(r2.status, 201, 'an expired key is a new key');
  assert.notStrictEqual(r2.body.id, r1.body.id);
  assert.strictEqual(await t.balance(u), 1100);
  // The sweep job deletes expired keys of everyone.
  await t.sql(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = ${u.id}`);
  await t.sql(`INSERT INTO jobs (kind) VALUES ('payments.sweep'); NOTIFY ml_jobs`);
  await t.waitFor(async () => (await t.num(`SELECT count(*) FROM idempotency_keys WHERE user_id = ${u.id}`)) === 0, 15000, 'the sweep');
});

test('cancelling a booking whose card payment waits for the browser cancels the intent', async () => {
  const m = await t.mentor({ price_cents: 1600 });
  const u = await t.user();
  const b = await t.book(u, m);
  const r = await t.pay(u, b.id, { method: 'card' });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  assert.strictEqual(r.body.status, 'requires_payment_method');
  const c = await t.api('POST', `/api/v1/bookings/${b.id}/cancel`, { token: u.access });
  assert.strictEqual(c.status, 200);
  await t.waitFor(async () => (await t.api('GET', `/api/v1/payments/${r.body.id}`, { token: u.access })).body.status === 'canceled', 15000, 'the intent to be cancelled');
  const evs = (await t.events()).filter((e) => e.type === 'payment_intent.canceled' && e.data.object.id === r.body.provider_intent_id);
  assert.strictEqual(evs.length, 1);
  // The checkout no longer takes money for it.
  const pay = await fetch(`${t.fakepayUrl}/checkout/${r.body.provider_intent_id}`, { method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `card_number=4242424242424242&client_secret=${encodeURIComponent(r.body.client_secret)}` });
  assert.ok(pay.status >= 400, `checkout of a cancelled intent answered ${pay.status}`);
  assert.strictEqual(await t.num(`SELECT count(*) FROM pay_transactions WHERE payment_id = ${r.body.id}`), 0);
});

test('the journal is append-only and balanced, and user balances cannot go negative, in the database itself', async () => {
  const u = await t.user();
  assert.strictEqual((await t.buyCredits(u, 400)).status, 201);
  const entry = await t.num(`SELECT max(e.id) FROM pay_entries e JOIN pay_accounts a ON a.id = e.account_id WHERE a.user_id = ${u.id}`);
  const refused = (q) => assert.throws(() => t.sqlSync(q),
    (e) => /append-only|does not balance|unbalanced|pay_accounts_not_negative|insufficient balance/.test(String(e.stderr)), q);
  refused(`UPDATE pay_entries SET amount = amount + 1 WHERE id = ${entry}`);
  refused(`DELETE FROM pay_entries WHERE id = ${entry}`);
  refused('TRUNCATE pay_entries CASCADE');
  refused(`DELETE FROM pay_transactions WHERE id = (SELECT txn_id FROM pay_entries WHERE id = ${entry})`);
  // A hand-written unbalanced transaction fails at commit (deferred trigger).
  refused(`BEGIN; INSERT INTO pay_transactions (kind, currency) VALUES ('credits_purchase', 'eur');
    INSERT INTO pay_entries (txn_id, account_id, amount) SELECT currval(pg_get_serial_sequence('pay_transactions', 'id')), id, 5 FROM pay_accounts WHERE user_id = ${u.id}; COMMIT;`);
  refused(`SELECT pay_post('credits_purchase', NULL, NULL, 'eur', 'x', '[{"kind":"card_clearing","amount":-5},{"kind":"mentee_credits","user_id":${u.id},"amount":4}]')`);
  // Overdraw through the one entry point: refused by the CHECK.
  refused(`SELECT pay_post('booking_credits', NULL, NULL, 'eur', 'x', '[{"kind":"mentee_credits","user_id":${u.id},"amount":-401},{"kind":"platform_fees","amount":401}]')`);
  refused(`UPDATE pay_accounts SET balance = -1 WHERE user_id = ${u.id}`);
  assert.strictEqual(await t.balance(u), 400);
});
