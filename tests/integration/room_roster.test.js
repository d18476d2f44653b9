// Large rooms (docs/signaling.md, "Large rooms"): above room_roster_limit
// members, mentees hold a partial roster (mentors and mentees given the
// floor) and get participant-count instead of every join and leave;
// mentors always hold the whole roster; at half the limit the room is
// small again and mentees get the whole roster back.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { startDaemon } = require('./lib/daemon');
const { connect } = require('./lib/wsclient');

let d;
before(async () => {
  d = await startDaemon({
    config: { room_join_tokens: false, ice_interfaces: '127.0.0.1', room_max_participants: 30, room_roster_limit: 4 },
  });
});
after(async () => { if (d) await d.stop(); });

let seq = 0;
async function join(role, name) {
  const c = await connect(d.wsUrl);
  c.joined = await c.request({ type: 'join', id: ++seq, room: 'big', mode: 'room', role, name }, 'joined');
  c.id = c.joined.peer_id;
  return c;
}

// Everything c was sent before now (a ping answered means every message
// queued before it has arrived), then forget it.
async function drain(c) {
  const id = 'sync' + ++seq;
  await c.request({ type: 'ping', id }, 'pong');
  return c.queue.splice(0);
}
const ofType = (msgs, type) => msgs.filter((m) => m.type === type);
const ids = (parts) => parts.map((p) => p.id).sort((a, b) => a - b);

test('large room: partial roster for mentees, whole roster for mentors, back when small', async () => {
  const m = await join('mentor', 'Ada');
  assert.strictEqual(m.joined.roster, 'full');
  assert.strictEqual(m.joined.count, 1);
  const a = await join('mentee', 'A');
  const b = await join('mentee', 'B');
  const c = await join('mentee', 'C');
  // 4 members = the limit: still small, everyone gets every join.
  assert.strictEqual(c.joined.roster, 'full');
  assert.strictEqual(c.joined.count, 4);
  assert.deepStrictEqual(ids(c.joined.participants), ids([m, a, b]));
  assert.deepStrictEqual(ids(ofType(await drain(a), 'participant-joined').map((x) => x.participant)), ids([b, c]));
  await drain(b);
  await drain(c);

  // The fifth member makes it large: mentees switch to the partial roster
  // (only the mentor), the joiner gets the partial roster and the count.
  const dd = await join('mentee', 'D');
  assert.strictEqual(dd.joined.roster, 'partial');
  assert.strictEqual(dd.joined.count, 5);
  assert.deepStrictEqual(ids(dd.joined.participants), [m.id]);
  for (const x of [a, b, c]) {
    const got = await drain(x);
    const roster = ofType(got, 'roster');
    assert.strictEqual(roster.length, 1, JSON.stringify(got));
    assert.deepStrictEqual([roster[0].roster, roster[0].count], ['partial', 5]);
    assert.deepStrictEqual(ids(roster[0].participants), [m.id]);
    assert.strictEqual(ofType(got, 'participant-joined').length, 0, JSON.stringify(got));
  }
  // The mentor still hears every join.
  const mj = ofType(await drain(m), 'participant-joined').map((x) => x.participant.id);
  assert.deepStrictEqual(mj, [a.id, b.id, c.id, dd.id]);

  // Two more joins in quick succession: mentees get the count, coalesced
  // (at most one message a second), never the joins; the last count is exact.
  const e = await join('mentee', 'E');
  const f = await join('mentee', 'F');
  assert.strictEqual(f.joined.count, 7);
  const counts = [];
  for (;;) {
    const pc = await a.next('participant-count', 3000);
    counts.push(pc.count);
    if (pc.count === 7) break;
  }
  assert.ok(counts.length <= 2, `counts ${counts}`);
  assert.strictEqual(ofType(await drain(a), 'participant-joined').length, 0);
  assert.deepStrictEqual(ofType(await drain(m), 'participant-joined').map((x) => x.participant.id), [e.id, f.id]);

  // Everyone ends up with the right count, a joiner too: Y joins, X joins
  // (told 9), Y leaves (8 again, as the others were last told).
  const y = await join('mentee', 'Y');
  const x = await join('mentee', 'X');
  assert.strictEqual(x.joined.count, 9);
  y.ws.close();
  await m.next('participant-left');
  await new Promise((r) => setTimeout(r, 1500)); // past the coalescing second
  const lastCount = (c, start) => ofType(c.queue, 'participant-count').reduce((n, pc) => pc.count, start);
  for (const [who, c, start] of [['X', x, 9], ['A', a, 7]]) {
    await c.request({ type: 'ping', id: 'cnt' + who }, 'pong');
    assert.strictEqual(lastCount(c, start), 8, `${who} holds the wrong count`);
    c.queue.splice(0);
  }
  x.ws.close();
  await m.next('participant-left');
  for (let n = 0; (await a.next('participant-count', 3000)).count !== 7; n++) assert.ok(n < 4);
  await drain(m);
  await drain(a);

  // The floor: mentees learn of E (then the grant); E stays known, so its
  // leave reaches them; F's leave does not (only the new count).
  await m.request({ type: 'floor', id: 'g', participant: e.id, grant: true }, 'ack');
  const got = await drain(a);
  const types = got.map((x) => x.type).filter((t) => t === 'participant-joined' || t === 'floor');
  assert.deepStrictEqual(types, ['participant-joined', 'floor']);
  assert.deepStrictEqual(ofType(got, 'participant-joined')[0].participant, { id: e.id, name: 'E', role: 'mentee', floor: true });
  assert.strictEqual(ofType(await drain(m), 'participant-joined').length, 0, 'the mentor knew E already');
  assert.strictEqual(ofType(await drain(e), 'participant-joined').length, 0, 'E is not announced to itself');
  // Taking back a floor never given is not news to the partial rosters.
  await drain(f);
  await m.request({ type: 'floor', id: 'r', participant: f.id, grant: false }, 'ack');
  assert.strictEqual(ofType(await drain(a), 'floor').length, 0);
  assert.strictEqual(ofType(await drain(f), 'floor').length, 1);
  assert.strictEqual(ofType(await drain(m), 'floor').length, 1);
  // A joiner now sees the mentor and the mentee with the floor.
  const g = await join('mentee', 'G');
  assert.deepStrictEqual(ids(g.joined.participants), ids([m, e]));
  g.ws.close();
  await m.next('participant-left');
  e.ws.close();
  assert.strictEqual((await a.next('participant-left')).participant, e.id);
  f.ws.close();
  assert.strictEqual((await m.next('participant-left')).participant, e.id);
  assert.strictEqual((await m.next('participant-left')).participant, f.id);
  // G came and went, E and F left: the count settles at 5.
  for (let n = 0; (await a.next('participant-count', 3000)).count !== 5; n++) assert.ok(n < 4);
  assert.ok(!ofType(await drain(a), 'participant-left').some((x) => x.participant === f.id || x.participant === g.id));

  // Shrinking to half the limit (2 members) makes the room small again:
  // the remaining mentee gets the whole roster, then every join.
  for (const x of [b, c, dd]) x.ws.close();
  const back = await a.next('roster', 5000);
  assert.deepStrictEqual([back.roster, back.count], ['full', 2]);
  assert.deepStrictEqual(ids(back.participants), [m.id]);
  const h = await join('mentee', 'H');
  assert.strictEqual(h.joined.roster, 'full');
  assert.strictEqual((await a.next('participant-joined')).participant.id, h.id);
  for (const x of [m, a, h]) x.ws.close();
});

test('room_roster_limit 0 keeps the whole roster for everyone', async () => {
  const d0 = await startDaemon({
    config: { room_join_tokens: false, ice_interfaces: '127.0.0.1', room_max_participants: 30, room_roster_limit: 0 },
  });
  try {
    const cs = [];
    for (let i = 0; i < 6; i++) {
      const c = await connect(d0.wsUrl);
      c.joined = await c.request({ type: 'join', id: 1, room: 'z', mode: 'room', role: i ? 'mentee' : 'mentor', name: 'p' + i }, 'joined');
      assert.strictEqual(c.joined.roster, 'full');
      assert.strictEqual(c.joined.participants.length, i);
      cs.push(c);
    }
    const got = await drain(cs[1]);
    assert.strictEqual(ofType(got, 'participant-joined').length, 4);
    assert.strictEqual(ofType(got, 'roster').length + ofType(got, 'participant-count').length, 0);
    for (const c of cs) c.ws.close();
  } finally {
    await d0.stop();
  }
});
