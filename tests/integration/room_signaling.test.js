// Room-mode signaling without media (no browser): join replies and
// participant events, roles and errors (role required, room_full,
// forbidden floor, unknown targets, mute of a foreign track), leave.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { connect } = require('./lib/wsclient');

let d;
before(async () => {
  d = await startDaemon({ config: { room_join_tokens: false, ice_interfaces: '127.0.0.1', room_max_participants: 3 } });
});
after(async () => { if (d) await d.stop(); });

async function expectError(c, msg, code) {
  c.send(msg);
  const e = await c.next('error');
  assert.strictEqual(e.code, code, JSON.stringify(e));
  return e;
}

test('room: join, events, roles, limits, errors', async () => {
  const m = await connect(d.wsUrl);
  await expectError(m, { type: 'join', room: 'sig', mode: 'room' }, 'bad_request');
  await expectError(m, { type: 'join', room: 'sig', mode: 'room', role: 'king' }, 'bad_request');
  await expectError(m, { type: 'layer', track: '1:0', pin: 'l' }, 'not_joined');
  const jm = await m.request({ type: 'join', id: 1, room: 'sig', mode: 'room', role: 'mentor', name: 'Ada' }, 'joined');
  assert.strictEqual(jm.id, 1);
  assert.strictEqual(jm.mode, 'room');
  assert.strictEqual(jm.role, 'mentor');
  assert.deepStrictEqual(jm.participants, []);
  assert.deepStrictEqual(jm.tracks, []);
  assert.strictEqual(jm.active_speaker, null);

  const e1 = await connect(d.wsUrl);
  const je = await e1.request({ type: 'join', id: 'a', room: 'sig', mode: 'room', role: 'mentee', name: 'Bob' }, 'joined');
  assert.deepStrictEqual(je.participants, [{ id: jm.peer_id, name: 'Ada', role: 'mentor', floor: true }]);
  const pj = await m.next('participant-joined');
  assert.deepStrictEqual(pj.participant, { id: je.peer_id, name: 'Bob', role: 'mentee', floor: false });

  // Only a mentor gives the floor, only to a mentee of the room.
  await expectError(e1, { type: 'floor', participant: jm.peer_id, grant: true }, 'forbidden');
  await expectError(m, { type: 'floor', participant: 99999, grant: true }, 'not_in_room');
  const ack = await m.request({ type: 'floor', id: 'f', participant: je.peer_id, grant: true }, 'ack');
  assert.strictEqual(ack.for, 'floor');
  const fl = await e1.next('floor');
  assert.deepStrictEqual([fl.participant, fl.granted], [je.peer_id, true]);
  // Muting a track that is not yours.
  await expectError(e1, { type: 'mute', track: `${jm.peer_id}:0`, muted: true }, 'not_in_room');
  // A layer preference is acknowledged (even before the track exists).
  const la = await e1.request({ type: 'layer', id: 'l', track: `${jm.peer_id}:0`, max_height: 360 }, 'ack');
  assert.strictEqual(la.for, 'layer');

  // room_max_participants = 3.
  const e2 = await connect(d.wsUrl);
  await e2.request({ type: 'join', room: 'sig', mode: 'room', role: 'mentee' }, 'joined');
  const e3 = await connect(d.wsUrl);
  await expectError(e3, { type: 'join', room: 'sig', mode: 'room', role: 'mentee' }, 'room_full');
  // Another room is independent; echo mode still works on the same server.
  await e3.request({ type: 'join', room: 'other', mode: 'room', role: 'mentee' }, 'joined');
  const echo = await connect(d.wsUrl);
  await echo.request({ type: 'join', room: 'sig', mode: 'echo' }, 'joined');
  await expectError(echo, { type: 'floor', participant: 1, grant: true }, 'not_in_room');

  // Leaving: the others hear it.
  await e1.request({ type: 'leave', id: 'x' }, 'left');
  const pl = await m.next('participant-left');
  assert.strictEqual(pl.participant, je.peer_id);
  e2.ws.close();
  const pl2 = await m.next('participant-left');
  assert.ok(pl2.participant > 0);
  for (const c of [m, e1, e3, echo]) c.ws.close();
});
