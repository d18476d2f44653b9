// Start the local payment provider (tools/fakepay, `mlfakepay`) for a test,
// and a small webhook receiver that checks Stripe signatures itself.
//
//   const { startFakepay, startWebhookReceiver } = require('./lib/fakepay');
//   const rx = await startWebhookReceiver({ secrets: ['whsec_a'] });
//   const fp = await startFakepay({ webhookUrls: [rx.url], webhookSecrets: ['whsec_a'] });
//   const r = await fp.api('POST', '/v1/payment_intents',
//                          { amount: 1000, currency: 'usd', metadata: { booking: '7' } },
//                          { idempotencyKey: 'k1' });   // -> { status, headers, body }
//   await fp.config({ duplicate_webhooks: true });      // POST /_fakepay/config -> config
//   const events = await fp.events();                   // GET /_fakepay/events -> [event + deliveries]
//   api() options: idempotencyKey, key (default the secret key; null = none), raw (body string),
//   headers, signal (AbortSignal).
//   await fp.stop();                                    // SIGTERM, expects a clean exit
//
// startFakepay(opts) options (all optional):
//   webhookUrls: [url], webhookSecrets: [secret]  -> --webhook-url / --webhook-secret (repeated)
//   secretKey    (default a random sk_test_...),  stateFile (default: none, in-memory state),
//   fsync        (also fsync the state file: --fsync)
//   port         (default 0: mlfakepay picks one), publicUrl, env, bin
// It returns { url, port, secretKey, stateFile, proc, logs(), api(), config(), events(),
//   resend(id, t), stop(), kill() }. kill() is SIGKILL (for crash tests); stop() throws if the
//   process printed a sanitizer report or did not exit 0.
// The binary is $ML_FAKEPAY_BIN, else next to $ML_BIN's build tree
// (build*/tools/fakepay/mlfakepay), else build/tools/fakepay/mlfakepay.
//
// startWebhookReceiver({ secrets, toleranceS = 300, respond }) starts an HTTP server on
// 127.0.0.1; every POST is recorded in rx.received as { at, path, headers, raw, body, t,
// valid, validFor: [secret indexes whose v1 matched], status }. valid means some v1 matched
// one of `secrets` and t is within toleranceS of now. respond(req, index) may return a
// status (default 200 when valid, 400 otherwise) or 'hang' (never answer).
// rx.waitFor(pred, timeoutMs) resolves with the matching list once pred(received) is true.
// verifyStripeSignature(header, raw, secrets, toleranceS) is exported for other tests.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function fakepayBin() {
  if (process.env.ML_FAKEPAY_BIN) return process.env.ML_FAKEPAY_BIN;
  if (process.env.ML_BIN) {
    const b = path.resolve(path.dirname(process.env.ML_BIN), '..', 'tools', 'fakepay', 'mlfakepay');
    if (fs.existsSync(b)) return b;
  }
  return path.join(ROOT, 'build', 'tools', 'fakepay', 'mlfakepay');
}

// Stripe form encoding: nested objects become key[sub]=value.
function formEncode(params, prefix = '') {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object') parts.push(formEncode(v, key));
    else parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
  }
  return parts.filter(Boolean).join('&');
}

function sanitizerReport(text) {
  const m = text.match(/(ERROR: (AddressSanitizer|LeakSanitizer)[\s\S]{0,3000}|runtime error:[^\n]*)/);
  return m ? m[0] : null;
}

// Providers still running when the test process exits are killed with it.
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

async function startFakepay(opts = {}) {
  const secretKey = opts.secretKey || 'sk_test_' + crypto.randomBytes(12).toString('hex');
  // --die-with-parent: a test process killed from outside takes it along.
  const args = ['--listen', `127.0.0.1:${opts.port || 0}`, '--secret-key', secretKey, '--die-with-parent'];
  for (const u of opts.webhookUrls || []) args.push('--webhook-url', u);
  for (const s of opts.webhookSecrets || []) args.push('--webhook-secret', s);
  if (opts.stateFile) args.push('--state-file', opts.stateFile);
  if (opts.fsync) args.push('--fsync');
  if (opts.publicUrl) args.push('--public-url', opts.publicUrl);
  const proc = spawn(opts.bin || fakepayBin(), args, {
    env: { ...process.env, ...(opts.env || {}) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let output = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mlfakepay did not start: ' + output)), 20000);
    proc.stderr.on('data', (d) => { output += d; });
    proc.stdout.on('data', (d) => {
      output += d;
      const m = output.match(/mlfakepay listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`mlfakepay exited ${code}: ${output}`)); });
  });
  const url = `http://127.0.0.1:${port}`;

  async function api(method, p, params, { idempotencyKey, key = secretKey, raw, headers = {}, signal } = {}) {
    const h = { ...headers };
    if (key) h.Authorization = `Bearer ${key}`;
    if (idempotencyKey) h['Idempotency-Key'] = idempotencyKey;
    let body;
    if (method !== 'GET') {
      body = raw !== undefined ? raw : formEncode(params);
      h['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (params && Object.keys(params).length) {
      p += '?' + formEncode(params);
    }
    const r = await fetch(url + p, { method, headers: h, body, signal });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, body: json, text };
  }

  async function control(method, p, obj) {
    const r = await fetch(url + p, {
      method, headers: obj ? { 'Content-Type': 'application/json' } : {},
      body: obj ? JSON.stringify(obj) : undefined,
    });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(body)}`);
    return body;
  }

  return {
    url, port, secretKey, stateFile: opts.stateFile || null, proc, exited,
    logs: () => output,
    api,
    config: (obj) => control(obj ? 'POST' : 'GET', '/_fakepay/config', obj),
    events: async () => (await control('GET', '/_fakepay/events')).data,
    resend: (id, t) => control('POST', `/_fakepay/events/${id}/resend${t ? `?t=${t}` : ''}`),
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return exited;
    },
    async stop({ timeoutMs = 15000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const res = await exited;
      clearTimeout(timer);
      const report = sanitizerReport(output);
      if (report) throw new Error('sanitizer report from mlfakepay:\n' + report);
      if (res.signal !== 'SIGKILL' && res.code !== 0) {
        throw new Error(`mlfakepay exited with ${res.code ?? res.signal}; output:\n${output.slice(-3000)}`);
      }
      return res;
    },
  };
}

// Check a Stripe-Signature header the way Stripe's libraries do.
function verifyStripeSignature(header, raw, secrets, toleranceS = 300) {
  const parts = String(header || '').split(',').map((kv) => kv.split('='));
  const t = Number((parts.find(([k]) => k === 't') || [])[1]);
  const v1s = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  const validFor = [];
  secrets.forEach((s, i) => {
    const want = crypto.createHmac('sha256', s).update(`${t}.${raw}`).digest('hex');
    if (v1s.some((v) => v.length === want.length &&
        crypto.timingSafeEqual(Buffer.from(v), Buffer.from(want)))) validFor.push(i);
  });
  const fresh = Number.isFinite(t) && Math.abs(Date.now() / 1000 - t) <= toleranceS;
  return { t, v1s, validFor, valid: validFor.length > 0 && fresh };
}

async function startWebhookReceiver({ secrets = [], toleranceS = 300, respond } = {}) {
  const received = [];
  const waiters = [];
  const sockets = new Set();
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pred(received)) { waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(received); }
    }
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      if (req.method !== 'POST') { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<p id="returned">ok</p>'); return; }
      const sig = verifyStripeSignature(req.headers['stripe-signature'], raw, secrets, toleranceS);
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const rec = { at: Date.now(), path: req.url, headers: req.headers, raw, body, ...sig };
      const idx = received.length;
      received.push(rec);
      let status = sig.valid ? 200 : 400;
      if (respond) {
        const s = respond(rec, idx);
        if (s === 'hang') { check(); return; }
        if (s) status = s;
      }
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ received: status < 300 }));
      check();
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/api/v1/payments/webhook`,
    base: `http://127.0.0.1:${port}`,
    received,
    waitFor(pred, timeoutMs = 20000) {
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`webhook receiver: condition not met in ${timeoutMs} ms; got ${received.length}: ` +
            received.map((r) => `${r.body && r.body.type}/${r.status}`).join(', ')));
        }, timeoutMs);
        waiters.push(w);
        check();
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

module.exports = { startFakepay, startWebhookReceiver, verifyStripeSignature, formEncode, fakepayBin };
