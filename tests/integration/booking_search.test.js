// Search over the precomputed free-slot table (schema/0007_search.sql)
// against a real daemon and PostgreSQL: "has a free slot between two
// instants" follows bookings, cancellations and availability changes in
// the same commit; the daily refresh job runs and queues its next run;
// typo-tolerant names through the word dictionary; bad ranges are 400.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const A = require('./lib/auth');

let d, key;
const H = 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const q = (s) => s.replace(/:/g, '%3A');
const api = (method, path, opts) => A.api(d, method, path, opts);

const sqlUser = (role = 'mentee') => A.sqlUser(d, key, { role, name: 'Searcher', tag: 'bs' });

async function mentorWith(name, skill, rules, type) {
  const m = await sqlUser('mentor');
  return A.setupMentor(d, m, { profile: { name, time_zone: 'UTC', skills: [skill] }, rules,
    type: { title: 't', duration_min: 60, horizon_days: 30, ...type } });
}

async function available(skill, from, to) {
  const r = await api('GET', q(`/api/v1/mentors?skill=${skill}&available_from=${iso(from)}&available_to=${iso(to)}&limit=100`));
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  return r.body.items.map((x) => x.id);
}

// The UTC day after tomorrow at hh:00.
const day2 = (hh) => { const t = new Date(Date.now() + 48 * H); return Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), hh); };

test.before(async () => {
  d = await A.startAuthDaemon();
  await A.userWithRole(d, 'mentee'); // makes the signing key
  key = await A.signingKey(d);
});
test.after(async () => { if (d) await d.stop(); });

test('free-slot filter follows bookings, cancellations and availability in the same commit', async () => {
  const all = [1, 2, 3, 4, 5, 6, 7];
  // one slot a day (10:00-11:00 UTC)
  const m = await mentorWith('Ottoline Vasquez', 'freeslot', all.map((weekday) => ({ weekday, start: '10:00', end: '11:00' })));
  const other = await mentorWith('Peregrine Alcott', 'freeslot', all.map((weekday) => ({ weekday, start: '14:00', end: '16:00' })));
  const from = day2(0), to = day2(24);
  assert.deepStrictEqual((await available('freeslot', from, to)).sort(), [m.id, other.id].sort());
  // a range that holds only m's slot, and one that holds nobody's
  assert.deepStrictEqual(await available('freeslot', day2(10), day2(11)), [m.id]);
  assert.deepStrictEqual(await available('freeslot', day2(11), day2(14)), []);
  // booking the only slot of that day removes m at once; cancelling brings it back
  const u = await sqlUser();
  let r = await api('POST', '/api/v1/bookings', { token: u.access, body: { session_type_id: m.type.id, start: iso(day2(10)) } });
  assert.strictEqual(r.status, 201, JSON.stringify(r.body));
  assert.deepStrictEqual(await available('freeslot', from, to), [other.id]);
  assert.deepStrictEqual(await available('freeslot', day2(10), day2(11)), []);
  r = await api('POST', `/api/v1/bookings/${r.body.id}/cancel`, { token: u.access });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.deepStrictEqual(await available('freeslot', day2(10), day2(11)), [m.id]);
  // availability replaced: other now only works 18:00-19:00
  r = await api('PUT', '/api/v1/mentor/availability', { token: other.access, body: { rules: all.map((weekday) => ({ weekday, start: '18:00', end: '19:00' })) } });
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(await available('freeslot', day2(14), day2(16)), []);
  assert.deepStrictEqual(await available('freeslot', day2(18), day2(19)), [other.id]);
  // a blackout over the whole day removes m
  r = await api('PUT', '/api/v1/mentor/availability', { token: m.access, body: {
    rules: all.map((weekday) => ({ weekday, start: '10:00', end: '11:00' })),
    blackouts: [{ start: iso(day2(0)), end: iso(day2(24)) }] } });
  assert.strictEqual(r.status, 200, JSON.stringify(r.body));
  assert.deepStrictEqual(await available('freeslot', from, to), [other.id]);
  // the table agrees with the slots endpoint
  const slots = (await api('GET', q(`/api/v1/session-types/${other.type.id}/slots?from=${iso(from)}&to=${iso(to)}`))).body.slots;
  const stored = await d.sql(`SELECT array_to_string(array(SELECT to_char(s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM search_free_days, unnest(starts) s WHERE mentor_id = ${other.id} AND day = '${iso(from).slice(0, 10)}' ORDER BY s), ',')`);
  assert.strictEqual(stored, slots.map((s) => s.start).join(','));
  assert.strictEqual(await d.sql('SELECT count(*) FROM search_dirty'), '0');
});

test('a full group session leaves the search; a freed seat brings it back', async () => {
  const m = await mentorWith('Wilhelmina Strand', 'groupfree', [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '07:00', end: '08:00' })), { capacity: 2 });
  const [a, b] = [await sqlUser(), await sqlUser()];
  let r = await api('POST', '/api/v1/bookings', { token: a.access, body: { session_type_id: m.type.id, start: iso(day2(7)) } });
  assert.strictEqual(r.status, 201);
  assert.deepStrictEqual(await available('groupfree', day2(7), day2(8)), [m.id]); // one seat left
  r = await api('POST', '/api/v1/bookings', { token: b.access, body: { session_type_id: m.type.id, start: iso(day2(7)) } });
  assert.strictEqual(r.status, 201);
  assert.deepStrictEqual(await available('groupfree', day2(7), day2(8)), []);
  r = await api('POST', `/api/v1/bookings/${r.body.id}/cancel`, { token: b.access });
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(await available('groupfree', day2(7), day2(8)), [m.id]);
});

test('the daily refresh job is queued for 00:10 UTC, runs, and queues the next day', async () => {
  const first = await d.sql("SELECT id || ' ' || to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || to_char(run_at AT TIME ZONE 'UTC', 'HH24:MI') || ' ' || (run_at > now()) || ' ' || (run_at < now() + interval '25 hours') FROM jobs WHERE kind = 'search.refresh_free' AND state = 'queued'");
  const [id, day, ...rest] = first.split(' ');
  assert.deepStrictEqual(rest, ['00:10', 'true', 'true']);
  await d.sql(`UPDATE jobs SET run_at = now() WHERE id = ${id}`);
  let state = '';
  for (let i = 0; i < 150 && state !== 'done'; i++) {
    state = await d.sql(`SELECT state FROM jobs WHERE id = ${id}`);
    if (state !== 'done') await new Promise((res) => setTimeout(res, 100));
  }
  assert.strictEqual(state, 'done');
  // it ran early (the job was meant for tomorrow): the next one is the day after
  const next = await d.sql(`SELECT count(*) || ' ' || min(to_char(run_at AT TIME ZONE 'UTC', 'HH24:MI')) || ' ' || bool_and((run_at AT TIME ZONE 'UTC')::date = DATE '${day}' + 1) FROM jobs WHERE kind = 'search.refresh_free' AND state = 'queued'`);
  assert.strictEqual(next, '1 00:10 true');
  // a rerun recomputes the same rows (idempotent) and repairs a lost one
  const m = await sqlUser('mentor');
  await A.setupMentor(d, m, { profile: { name: 'Refresh Mentor', time_zone: 'UTC' },
    rules: A.everyDay('12:00', '13:00'), type: { title: 't', duration_min: 60, horizon_days: 10 } });
  const sig = "SELECT count(*) || ':' || md5(string_agg(mentor_id::text || day::text || starts::text, ',' ORDER BY mentor_id, day)) FROM search_free_days";
  const before = await d.sql(sig);
  assert.ok(Number(before.split(':')[0]) >= 9, before);
  await d.sql(`DELETE FROM search_free_days WHERE mentor_id = ${m.id} AND day = (SELECT max(day) FROM search_free_days WHERE mentor_id = ${m.id})`);
  assert.notStrictEqual(await d.sql(sig), before);
  await d.sql('SELECT search_refresh_batch(0, 100000)');
  assert.strictEqual(await d.sql(sig), before);
});

test('names: typos and prefixes through the word dictionary, every word must match', async () => {
  for (const name of ['Evangeline Thistlewood', 'Evangeline Marchbanks', "Seamus O'Donoghue-Price"]) {
    const m = await sqlUser('mentor');
    const r = await api('PUT', '/api/v1/mentor/profile', { token: m.access, body: { name, time_zone: 'UTC', tags: ['namesearch'] } });
    assert.strictEqual(r.status, 200);
  }
  const names = async (n) => (await api('GET', `/api/v1/mentors?tag=namesearch&name=${encodeURIComponent(n)}`)).body.items.map((x) => x.name);
  assert.deepStrictEqual(await names('Evangelin Thistlewod'), ['Evangeline Thistlewood']);
  assert.deepStrictEqual((await names('evangeline')).sort(), ['Evangeline Marchbanks', 'Evangeline Thistlewood']);
  assert.deepStrictEqual(await names('Thistle'), ['Evangeline Thistlewood']); // prefix
  assert.deepStrictEqual(await names('odonoghue price'), ["Seamus O'Donoghue-Price"]);
  assert.deepStrictEqual(await names('Evangeline Zzyzx'), []);
  // a renamed mentor is found under the new name only
  const r = await api('GET', '/api/v1/mentors?tag=namesearch&name=Marchbanks');
  const id = r.body.items[0].id;
  await d.sql(`UPDATE mentor_profiles SET name = 'Evangeline Featherstonehaugh' WHERE user_id = ${id}`);
  assert.deepStrictEqual(await names('Marchbanks'), []);
  assert.deepStrictEqual(await names('Featherstonhaugh'), ['Evangeline Featherstonehaugh']);
});

test('name relevance: the word itself, then prefixes, then typos by closeness; rating within a grade; pages cross grades exactly', async () => {
  const made = {};
  for (const [k, name, rating] of [['A', 'Odile Wolfenden', 3], ['B', 'Ignatius Wolfenden', 1.5], ['C', 'Wolfendens Arbour', 5],
    ['D', 'Cyril Wolfendon', 4.9], ['E', 'Mabel Wolfendon', 4.9], ['F', 'Hugo Wolfenberg', 5], ['G', 'Wolfenden Wolfendon', 0.5],
    ['H', 'Arbour Wolfenden', 1]]) {
    const m = await sqlUser('mentor');
    const r = await api('PUT', '/api/v1/mentor/profile', { token: m.access, body: { name, time_zone: 'UTC', tags: ['rankname'] } });
    assert.strictEqual(r.status, 200);
    await d.sql(`UPDATE mentor_profiles SET rating_avg = ${rating} WHERE user_id = ${m.id}`);
    made[m.id] = k;
  }
  const page = async (name, limit, cursor) => {
    const r = await api('GET', `/api/v1/mentors?tag=rankname&name=${encodeURIComponent(name)}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.strictEqual(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  // every page of a search at a page size, in order (each page at most `limit` long)
  const walk = async (name, limit) => {
    const seen = [];
    let cursor = null;
    do {
      const b = await page(name, limit, cursor);
      assert.ok(b.items.length <= limit);
      seen.push(...b.items.map((x) => made[x.id]));
      cursor = b.next_cursor;
    } while (cursor && seen.length < 20);
    return seen;
  };
  // exact word (rating 3, 1.5, 1, 0.5; G has the exact word and a typo: listed once, as exact),
  // then "wolfendens" (a prefix match), then the "wolfendon" typos (equal ratings: newer id first),
  // then the farther typo "wolfenberg", whatever their ratings
  const all = (await page('Wolfenden', 100)).items.map((x) => made[x.id]);
  assert.deepStrictEqual(all, ['A', 'B', 'H', 'G', 'C', 'E', 'D', 'F']);
  for (const limit of [1, 2, 3]) assert.deepStrictEqual(await walk('Wolfenden', limit), all, `limit ${limit}`);
  // a cursor belongs to its search: another name, or none, refuses it (the sort value
  // is grade × 10 + rating with a name, a rating without)
  const c1 = (await page('Wolfenden', 1)).next_cursor;
  for (const other of ['name=Wolfendon&tag=rankname', 'tag=rankname', 'name=Wolfenden&tag=rankname&min_rating=1']) {
    const r = await api('GET', `/api/v1/mentors?${other}&limit=1&cursor=${c1}`);
    assert.strictEqual(r.status, 400, other);
  }
  // How a grade is read (through the GIN indexes and sorted, or in rating-index order)
  // follows PostgreSQL's statistics; it never changes what is found. 1,500 more
  // Wolfendens (rating 0, another tag), then ANALYZE: "wolfenden" becomes a common word.
  const tagged = async () => (await api('GET', '/api/v1/mentors?tag=rankname&min_rating=1&name=Wolfenden&limit=3')).body.items.map((x) => made[x.id]);
  assert.deepStrictEqual(await tagged(), ['A', 'B', 'H']);
  await d.sql(`WITH u AS (INSERT INTO users (email, name, role, status)
      SELECT 'wolf' || g || '@filler.example', 'Filler', 'mentor', 'active' FROM generate_series(1, 1500) g RETURNING id)
    INSERT INTO mentor_profiles (user_id, name, time_zone, tags) SELECT id, 'Filler Wolfenden', 'UTC', '{rankfill}' FROM u`);
  const untagged = async (limit, cursor) => (await api('GET', `/api/v1/mentors?name=Wolfenden&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)).body;
  const head = async () => {
    // first page: the four exact ones rated above 0, then fillers; a cursor then walks on
    const p1 = await untagged(6);
    const names = p1.items.map((x) => made[x.id] || (x.name === 'Filler Wolfenden' ? 'filler' : x.name));
    const p2 = await untagged(100, p1.next_cursor);
    return [names, p2.items.length, p2.items.every((x) => x.name === 'Filler Wolfenden')];
  };
  const cold = await head();
  assert.deepStrictEqual(cold, [['A', 'B', 'H', 'G', 'filler', 'filler'], 100, true]);
  await d.sql('ANALYZE mentor_profiles');
  assert.ok(Number(await d.sql("SELECT search_words_estimate('{wolfenden}')")) > 1000, 'wolfenden is a common word now');
  assert.deepStrictEqual(await head(), cold);
  assert.deepStrictEqual(await tagged(), ['A', 'B', 'H']);
  assert.deepStrictEqual(await walk('Wolfenden', 3), all);
  // a number matches only itself (no "typos" of digits)
  const agent = await sqlUser('mentor');
  await api('PUT', '/api/v1/mentor/profile', { token: agent.access, body: { name: 'Agent 4711', time_zone: 'UTC', tags: ['rankname'] } });
  assert.deepStrictEqual((await page('4711', 100)).items.map((x) => x.id), [agent.id]);
  assert.deepStrictEqual((await page('4712', 100)).items, []);
  // several words: grades add up, so two exact words beat an exact word and a prefix
  assert.deepStrictEqual((await page('arbour wolfenden', 100)).items.map((x) => made[x.id]), ['H', 'C']);
  assert.deepStrictEqual(await walk('arbour wolfenden', 1), ['H', 'C']);
});

test('bad availability ranges are 400 problems', async () => {
  const t = Date.now() + 48 * H;
  for (const [from, to] of [[t, t], [t + H, t], [t, t + 63 * 24 * H]]) {
    const r = await api('GET', q(`/api/v1/mentors?available_from=${iso(from)}&available_to=${iso(to)}`));
    assert.strictEqual(r.status, 400, `${iso(from)}..${iso(to)}`);
    assert.match(r.headers.get('content-type'), /problem\+json/);
  }
  const r = await api('GET', q(`/api/v1/mentors?available_from=${iso(t)}`));
  assert.strictEqual(r.status, 400);
});
