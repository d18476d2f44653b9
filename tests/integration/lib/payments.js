// Payments test kit: a daemon whose embedded mlfakepay is the provider
// (the daemon spawns it; $ML_FAKEPAY_BIN overrides where the binary is),
// users with signed access tokens, a paid mentor, and the ledger
// invariants every payments test checks in after():
//
//   const P = require('./lib/payments');
//   const t = await P.start({ config: {...} });   // t.d daemon, t.fakepayUrl
//   const m = await t.mentor({ price_cents: 2500 }); const u = await t.user();
//   const b = await t.book(u, m, 0);               // held booking on m's nth slot
//   await t.pay(u, b.id, { method: 'card', payment_method: 'pm_card_visa' }, 'key-1');
//   await t.assertLedger();                        // sums to zero, no negative user balance
//   await t.fakepay('POST', '/_fakepay/config', { fail_next: { count: 1, status: 500 } });
'use strict';
const assert = require('node:assert');
const crypto = require('crypto');
const A = require('./auth');
const { postgres } = require('./servers');

const H = 3600 * 1000;

async function start({ config = {} } = {}) {
  const cfg = { payments_timeout_ms: 3000, payments_reconcile_s: 2, job_retry_base_ms: 300,
    job_retry_max_ms: 2000, payments_rate_per_minute: 1000, ...config };
  if (process.env.ML_FAKEPAY_BIN) cfg.payments_fakepay_bin = process.env.ML_FAKEPAY_BIN;
  const d = await A.startAuthDaemon(cfg);
  const pg = await postgres();
  const t = { d };
  const m = d.logs().match(/embedded mlfakepay on (http:\/\/127\.0\.0\.1:\d+)/);
  assert.ok(m, 'the daemon started its embedded mlfakepay:\n' + d.logs().slice(-2000));
  t.fakepayUrl = m[1];
  await A.userWithRole(d, 'mentee'); // makes the signing key
  const key = await A.signingKey(d);
  t.sql = (q) => d.sql(q);
  t.sqlSync = (q) => pg.psql(d.db.name, q); // throws with psql's stderr on an SQL error
  t.user = (role = 'mentee') => A.sqlUser(d, key, { role, name: 'Payer', tag: 'pay' });
  t.api = (method, path, opts) => A.api(d, method, path, opts);
  // A mentor available all day every day, 30-minute slots, priced.
  t.mentor = async ({ price_cents = 2500, currency = 'EUR' } = {}) => {
    const u = await t.user('mentor');
    await A.setupMentor(d, u, { profile: { name: `Mentor ${u.id}`, time_zone: 'UTC', currency, price_cents },
      rules: A.everyDay('00:00', '23:30'), type: { title: 'Paid 1:1', duration_min: 30, horizon_days: 365, price_cents } });
    u.nextSlot = 0;
    return u;
  };
  // The start of the mentor's nth free slot, 3 days ahead (far from the
  // 24 h refund line).
  t.slotStart = (n) => {
    const base = Math.ceil((Date.now() + 72 * H) / (24 * H)) * 24 * H; // a midnight UTC
    return new Date(base + n * 30 * 60 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  t.book = async (u, mentor, n = mentor.nextSlot++, expect = 201) => {
    const r = await t.api('POST', '/api/v1/bookings', { token: u.access, body: {
      session_type_id: mentor.type.id, start: t.slotStart(n) } });
    assert.strictEqual(r.status, expect, JSON.stringify(r.body));
    return r.body;
  };
  t.pay = (u, bookingId, body, key = crypto.randomUUID()) => t.api('POST', `/api/v1/bookings/${bookingId}/pay`,
    { token: u.access, body, headers: key ? { 'idempotency-key': key } : {} });
  t.buyCredits = (u, amount_cents, key = crypto.randomUUID(), extra = {}) => t.api('POST', '/api/v1/credits/purchase',
    { token: u.access, body: { amount_cents, payment_method: 'pm_card_visa', ...extra }, headers: key ? { 'idempotency-key': key } : {} });
  t.balance = async (u) => (await t.api('GET', '/api/v1/credits', { token: u.access })).body.balance_cents;
  t.fakepay = async (method, path, body) => {
    const r = await fetch(t.fakepayUrl + path, { method, headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* text */ }
    return { status: r.status, body: parsed };
  };
  t.events = async () => {
    const r = await t.fakepay('GET', '/_fakepay/events');
    assert.strictEqual(r.status, 200);
    return Array.isArray(r.body) ? r.body : r.body.data;
  };
  // detail (optional): an async function whose answer is added to the
  // timeout's message, to say what was seen instead.
  t.waitFor = async (fn, ms = 20000, what = 'condition', detail = null) => {
    const until = Date.now() + ms;
    let last;
    while (Date.now() < until) {
      last = await fn();
      if (last) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what}` + (detail ? `; seen: ${await detail()}` : ''));
  };
  t.num = async (q) => Number(await d.sql(q));
  // Ledger invariants: every transaction and the whole journal sum to zero,
  // balances equal their entries, no user account is negative.
  t.assertLedger = async () => {
    assert.strictEqual(await t.num('SELECT coalesce(sum(amount), 0) FROM pay_entries'), 0, 'journal sums to zero');
    assert.strictEqual(await t.num('SELECT count(*) FROM (SELECT txn_id FROM pay_entries GROUP BY txn_id HAVING sum(amount) <> 0) x'), 0, 'every transaction balances');
    assert.strictEqual(await t.num('SELECT coalesce(sum(balance), 0) FROM pay_accounts'), 0, 'balances sum to zero');
    assert.strictEqual(await t.num(`SELECT count(*) FROM pay_accounts a WHERE balance <> coalesce((SELECT sum(amount) FROM pay_entries e WHERE e.account_id = a.id), 0)`), 0, 'balances equal their entries');
    assert.strictEqual(await t.num(`SELECT count(*) FROM pay_accounts WHERE kind IN ('mentee_credits', 'mentor_earnings') AND balance < 0`), 0, 'no negative user balance');
  };
  t.stop = () => d.stop();
  return t;
}

module.exports = { start, H };
