// Embedded defaults: with no DATABASE_URL / REDIS_URL the daemon runs and
// supervises a private PostgreSQL and Redis under its data_dir.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { startDaemon } = require('./lib/daemon');
const { waitFor, sleep } = require('./lib/servers');

// Processes whose command line matches pattern and names dataDir; with
// parent, only that process's children. (A process PostgreSQL has just
// forked still shows the postmaster's command line until it sets its
// title, so the postmaster is the one whose parent is the daemon.)
function childPids(dataDir, pattern, parent) {
  let out = '';
  try {
    const args = parent ? ['-P', String(parent)] : [];
    out = execFileSync('pgrep', [...args, '-f', `${pattern}.*${dataDir}`], { encoding: 'utf8' });
  } catch { return []; }
  return out.split('\n').filter(Boolean).map(Number);
}

async function readyz(d) {
  const r = await fetch(d.baseUrl + '/readyz');
  return { status: r.status, body: await r.json() };
}

test('first run initialises a private cluster and Redis on unix sockets only', async () => {
  const d = await startDaemon({ embedded: true });
  try {
    const dataDir = d.config.data_dir;
    assert.ok(fs.existsSync(path.join(dataDir, 'postgresql', 'PG_VERSION')));
    assert.ok(fs.existsSync(path.join(dataDir, 'run', '.s.PGSQL.5432')));
    assert.ok(fs.existsSync(path.join(dataDir, 'run', 'redis.sock')));
    assert.deepStrictEqual((await readyz(d)).body, { status: 'ready', database: 'ok', redis: 'ok' });
    // No TCP listener belongs to the embedded servers.
    const pg = childPids(dataDir, 'postgres -D', d.proc.pid)[0];
    const ss = execFileSync('ss', ['-ltnp'], { encoding: 'utf8' });
    assert.doesNotMatch(ss, new RegExp(`pid=${pg},`));
    // Migrations ran inside the embedded database.
    const sock = path.join(dataDir, 'run');
    const n = execFileSync('psql', ['-h', sock, '-U', 'mentorlink', '-d', 'mentorlink', '-XtAc',
      'SELECT count(*) FROM schema_migrations'], { encoding: 'utf8' }).trim();
    assert.ok(Number(n) >= 1);
  } finally {
    await d.stop();
  }
});

test('a dead PostgreSQL or Redis fails /readyz and comes back by itself', async () => {
  const d = await startDaemon({ embedded: true });
  try {
    const dataDir = d.config.data_dir;
    const [pg] = childPids(dataDir, 'postgres -D', d.proc.pid);
    assert.ok(pg, 'postgres child running');
    process.kill(pg, 'SIGKILL');
    const down = await readyz(d);
    assert.strictEqual(down.status, 503);
    assert.match(down.body.database, /PostgreSQL/);
    await waitFor(async () => (await readyz(d)).status === 200, 30000, 'PostgreSQL to be restarted');
    const [pg2] = childPids(dataDir, 'postgres -D', d.proc.pid);
    assert.ok(pg2 && pg2 !== pg);

    const [rd] = childPids(dataDir, 'redis-server', d.proc.pid);
    process.kill(rd, 'SIGKILL');
    await sleep(50);
    const rdown = await readyz(d);
    assert.strictEqual(rdown.status, 503);
    assert.match(rdown.body.redis, /Redis/);
    await waitFor(async () => (await readyz(d)).status === 200, 30000, 'Redis to be restarted');
    assert.match(d.logs(), /PostgreSQL exited \(signal 9\); restarting/);
    assert.match(d.logs(), /Redis restarted/);
  } finally {
    await d.stop();
  }
});

test('SIGTERM stops the embedded servers; SIGKILL of the daemon does too', async () => {
  const d = await startDaemon({ embedded: true });
  const dataDir = d.config.data_dir;
  let res;
  try { // stop it whatever happens: a daemon left running keeps this file from ending
    assert.strictEqual(childPids(dataDir, 'postgres -D', d.proc.pid).length, 1);
  } finally {
    res = await d.stop();
  }
  assert.strictEqual(res.code, 0);
  assert.match(d.logs(), /stopped/);
  assert.deepStrictEqual(childPids(dataDir, 'postgres -D'), []);
  assert.deepStrictEqual(childPids(dataDir, 'redis-server'), []);

  // Second start reuses the cluster (no initdb) and then dies hard.
  const d2 = await startDaemon({ embedded: true, config: { data_dir: dataDir } });
  try {
    assert.doesNotMatch(d2.logs(), /initialising a PostgreSQL cluster/);
  } finally {
    await d2.stop({ signal: 'SIGKILL' });
  }
  await waitFor(() => childPids(dataDir, 'postgres -D').length === 0 &&
    childPids(dataDir, 'redis-server').length === 0, 15000, 'orphaned servers to stop');
});
