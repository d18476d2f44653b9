// A local S3 for recording tests: s3rver (npm) on 127.0.0.1 with a
// temporary folder, behind a small proxy that s3rver lacks:
//  - it verifies AWS Signature V4 for real (s3rver only checks that the
//    access key exists): Authorization headers (as libcurl's
//    CURLOPT_AWS_SIGV4 makes them) and presigned query strings, with the
//    secret it was given; a mismatch is answered 403 SignatureDoesNotMatch;
//  - it checks x-amz-content-sha256 and Content-MD5 against the body
//    (400 XAmzContentSHA256Mismatch / BadDigest);
//  - it can answer 503 to the next N requests (to test retries).
//
//   const s3 = await startS3({ bucket: 'recordings' });
//   s3.endpoint            // http://127.0.0.1:PORT (the proxy)
//   s3.failNext(2);        // the next two requests get 503
//   s3.stats               // { requests, verified, mismatches, failed503 }
//   await s3.listKeys()    // keys in the bucket
//   await s3.stop();
'use strict';
const crypto = require('crypto');
const http = require('http');
const S3rver = require('s3rver');
const { tmpDir } = require('./servers');

const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

function sha256hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data).digest();
}

function signingKey(secret, date, region, service) {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

// Canonical query: every parameter except X-Amz-Signature, sorted, with
// values as sent (the clients under test send them already encoded).
function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  return rawQuery.split('&').filter((p) => p && !p.startsWith('X-Amz-Signature='))
    .map((p) => (p.includes('=') ? p : p + '='))
    .sort().join('&');
}

function signature({ method, path, rawQuery, headers, signedHeaders, payloadHash, stamp, scope, secret }) {
  const canonHeaders = signedHeaders.map((h) => `${h}:${String(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [method, path, canonicalQuery(rawQuery), canonHeaders, signedHeaders.join(';'), payloadHash].join('\n');
  const sts = ['AWS4-HMAC-SHA256', stamp, scope, sha256hex(canonical)].join('\n');
  const [date, region, service] = scope.split('/');
  return crypto.createHmac('sha256', signingKey(secret, date, region, service)).update(sts).digest('hex');
}

// Returns null when the request is correctly signed, else a reason.
function verify(req, body, secret) {
  const url = new URL(req.url, 'http://x');
  const q = url.search.slice(1);
  const auth = req.headers.authorization;
  if (auth) {
    const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8}\/[^/]+\/[^/]+\/aws4_request), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/);
    if (!m) return 'malformed Authorization header';
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (!payloadHash) return 'missing x-amz-content-sha256';
    if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256hex(body)) return 'x-amz-content-sha256 does not match the body';
    const want = signature({ method: req.method, path: url.pathname, rawQuery: q, headers: req.headers,
      signedHeaders: m[3].split(';'), payloadHash, stamp: req.headers['x-amz-date'], scope: m[2], secret });
    return want === m[4] ? null : 'signature mismatch (header)';
  }
  const p = url.searchParams;
  if (p.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    const cred = p.get('X-Amz-Credential').split('/');
    const want = signature({ method: req.method, path: url.pathname, rawQuery: q, headers: req.headers,
      signedHeaders: p.get('X-Amz-SignedHeaders').split(';'), payloadHash: 'UNSIGNED-PAYLOAD',
      stamp: p.get('X-Amz-Date'), scope: cred.slice(1).join('/'), secret });
    return want === p.get('X-Amz-Signature') ? null : 'signature mismatch (query)';
  }
  return null; // anonymous: s3rver decides
}

function s3error(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

async function startS3({ bucket = 'recordings', secret = SECRET_KEY } = {}) {
  const dir = tmpDir('ml-s3-');
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true,
    configureBuckets: [{ name: bucket }] });
  const { port: s3port } = await server.run();
  const stats = { requests: 0, verified: 0, mismatches: 0, failed503: 0, reasons: [] };
  let fail = 0;
  const proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.requests++;
      const body = Buffer.concat(chunks);
      if (fail > 0) {
        fail--;
        stats.failed503++;
        return s3error(res, 503, 'SlowDown', 'Injected failure for a retry test');
      }
      const bad = verify(req, body, secret);
      if (bad) {
        stats.mismatches++;
        stats.reasons.push(bad);
        return s3error(res, 403, 'SignatureDoesNotMatch', bad);
      }
      if (req.headers['content-md5'] &&
          crypto.createHash('md5').update(body).digest('base64') !== req.headers['content-md5']) {
        stats.mismatches++;
        return s3error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      }
      if (req.headers.authorization || req.url.includes('X-Amz-Signature=')) stats.verified++;
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const up = http.request({ host: '127.0.0.1', port: s3port, method: req.method, path: req.url, headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on('error', (e) => s3error(res, 502, 'BadGateway', e.message));
      up.end(body);
    });
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${proxy.address().port}`;
  return {
    endpoint,
    bucket,
    dir,
    stats,
    accessKey: ACCESS_KEY,
    secretKey: secret,
    failNext(n) { fail = n; },
    async listKeys() {
      const r = await fetch(`http://127.0.0.1:${s3port}/${bucket}?list-type=2`);
      const xml = await r.text();
      return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    },
    async stop() {
      await new Promise((r) => proxy.close(r));
      await server.close();
    },
  };
}

module.exports = { startS3, verify, signature };
