// Room admission: with room_join_tokens on (the default) the SFU admits
// nobody without a room token for that room (session). The token decides
// the role (publish -> mentor, subscribe -> mentee). Tokens are signed here
// with the configured room_token_secret exactly as control/room_token.c
// signs them, plus one issued by the daemon itself through the REST API.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const { startDaemon } = require('./lib/daemon');
const { SigClient } = require('./lib/wsclient');
const A = require('./lib/auth');

const SECRET = 'room-token-test-secret-0123456789abcdef';
let d;

before(async () => {
  d = await startDaemon({ config: { ice_interfaces: '127.0.0.1', room_token_secret: SECRET } });
});
after(async () => { if (d) await d.stop(); });

function token({ sid, sub = 7, role = 'subscribe', ttl = 60, secret = SECRET, header } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return A.jws(header || { alg: 'HS256', typ: 'JWT' },
    { aud: 'mentorlink-room', sid, sub, role, iat: now - 1, exp: now + ttl,
      jti: crypto.randomBytes(9).toString('base64url') },
    A.hs256(secret));
}

async function join(fields) {
  const c = await new SigClient(d.wsUrl).open();
  c.send({ type: 'join', mode: 'room', ...fields });
  const reply = await c.next();
  return { c, reply };
}

test('no token, a forged, expired or foreign token: unauthorized; nothing joined', async () => {
  const cases = [
    { room: '41', role: 'mentee' },
    { room: '41', token: token({ sid: 41, secret: 'x'.repeat(40) }) },
    { room: '41', token: token({ sid: 41, ttl: -30 }) },
    { room: '41', token: token({ sid: 42 }) },
    { room: 'lobby', token: token({ sid: 41 }) },
    { room: '41', token: token({ sid: 41, header: { alg: 'none', typ: 'JWT' } }) },
    { room: '41', token: 'not.a.token' },
  ];
  for (const f of cases) {
    const { c, reply } = await join(f);
    assert.strictEqual(reply.type, 'error', JSON.stringify({ f, reply }));
    assert.strictEqual(reply.code, 'unauthorized', JSON.stringify(reply));
    c.ws.close();
  }
});

test('the token decides the role; a contradicting role is forbidden', async () => {
  const pub = await join({ room: '43', token: token({ sid: 43, sub: 1, role: 'publish' }), name: 'M' });
  assert.strictEqual(pub.reply.type, 'joined', JSON.stringify(pub.reply));
  assert.strictEqual(pub.reply.role, 'mentor');
  const sub = await join({ room: '43', token: token({ sid: 43, sub: 2 }), name: 'm' });
  assert.strictEqual(sub.reply.type, 'joined', JSON.stringify(sub.reply));
  assert.strictEqual(sub.reply.role, 'mentee');
  const liar = await join({ room: '43', role: 'mentor', token: token({ sid: 43, sub: 3 }) });
  assert.strictEqual(liar.reply.type, 'error');
  assert.strictEqual(liar.reply.code, 'forbidden');
  for (const x of [pub, sub, liar]) x.c.ws.close();
});
