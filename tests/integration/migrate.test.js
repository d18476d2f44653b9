// Migrations: applied once under concurrency, recorded with checksums, and
// refused when the database is newer or an applied file changed.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { runCommand } = require('./lib/daemon');
const { postgres } = require('./lib/servers');

test('three nodes migrating at once apply each migration exactly once', async () => {
  const pg = await postgres();
  const db = await pg.createDatabase();
  const env = { DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1' };
  const results = await Promise.all([1, 2, 3].map(() => runCommand(['migrate'], { env })));
  for (const r of results) assert.strictEqual(r.code, 0, r.stderr);
  const rows = pg.psql(db.name, 'SELECT version, length(checksum) FROM schema_migrations ORDER BY version');
  const lines = rows.split('\n');
  assert.ok(lines.length >= 1);
  lines.forEach((l, i) => assert.strictEqual(l, `${i + 1}|64`));
  assert.strictEqual(pg.psql(db.name, "SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'"), '1');
  const again = await runCommand(['migrate', '--check'], { env });
  assert.strictEqual(again.code, 0, again.stderr);
});

test('a database newer than the binary is refused', async () => {
  const pg = await postgres();
  const db = await pg.createDatabase();
  const env = { DATABASE_URL: db.url };
  assert.strictEqual((await runCommand(['migrate'], { env })).code, 0);
  pg.psql(db.name, "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'x')");
  const r = await runCommand(['migrate'], { env });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /schema version 9999 \(9999_future\).*newer database/);
});

test('an applied migration whose text changed is refused', async () => {
  const pg = await postgres();
  const db = await pg.createDatabase();
  const env = { DATABASE_URL: db.url };
  assert.strictEqual((await runCommand(['migrate'], { env })).code, 0);
  pg.psql(db.name, "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1");
  const r = await runCommand(['migrate'], { env });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /migration 0001_init was changed after it was applied/);
});

test('--check reports pending migrations without applying them', async () => {
  const pg = await postgres();
  const db = await pg.createDatabase();
  const r = await runCommand(['migrate', '--check'], { env: { DATABASE_URL: db.url } });
  assert.strictEqual(r.code, 1);
  assert.match(r.stderr, /pending/);
  assert.strictEqual(pg.psql(db.name, 'SELECT count(*) FROM schema_migrations'), '0');
});
