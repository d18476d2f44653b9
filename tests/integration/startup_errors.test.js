// Bad configuration and unreachable dependencies: one clear line naming the
// problem and a non-zero exit, never a crash or a hang.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const path = require('path');
const { runCommand, writeConfig, freePort, startDaemon } = require('./lib/daemon');
const { tmpDir } = require('./lib/servers');

function oneLine(stderr) {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('mentorlink:'));
  assert.strictEqual(lines.length, 1, `expected one error line, got:\n${stderr}`);
  return lines[0];
}

test('unknown config key is named with its line', async () => {
  const dir = tmpDir('ml-cfg-');
  const f = writeConfig(dir, { listen_port: 1234, listen_prot: 5 });
  const r = await runCommand(['serve', '--config', f]);
  assert.notStrictEqual(r.code, 0);
  const line = oneLine(r.stderr);
  assert.match(line, /unknown configuration key 'listen_prot'/);
  assert.match(line, /mentorlink\.conf:2/);
});

test('unreadable config file is reported', async () => {
  const r = await runCommand(['serve', '--config', '/nonexistent/x.conf']);
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /cannot read config file \/nonexistent\/x\.conf/);
});

test('unknown MENTORLINK_ environment variable is named', async () => {
  const r = await runCommand(['check-config'], { env: { MENTORLINK_LISTEN_PROT: '1' } });
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /MENTORLINK_LISTEN_PROT/);
});

test('bad values are refused with the key name', async () => {
  const r = await runCommand(['check-config'], { env: { MENTORLINK_LISTEN_PORT: 'eighty' } });
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /listen_port/);
  const r2 = await runCommand(['check-config'], { env: { MENTORLINK_LOG_LEVEL: 'loud' } });
  assert.strictEqual(r2.code, 1);
  assert.match(oneLine(r2.stderr), /log_level/);
});

test('check-config prints the effective configuration with secrets masked', async () => {
  const r = await runCommand(['check-config'], {
    env: { MENTORLINK_LISTEN_PORT: '9123', DATABASE_URL: 'postgresql://u:pw@h/db' } });
  assert.strictEqual(r.code, 0);
  assert.match(r.stdout, /^listen_port = 9123$/m);
  assert.match(r.stdout, /^database_url = "\(set\)"$/m);
  assert.doesNotMatch(r.stdout, /pw@h/);
});

test('unknown subcommand and arguments exit non-zero with usage', async () => {
  const r = await runCommand(['frobnicate']);
  assert.strictEqual(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  const v = await runCommand(['version']);
  assert.strictEqual(v.code, 0);
  assert.match(v.stdout, /^mentorlink \d+\.\d+\.\d+/);
});

test('a port already in use is one clear line', async () => {
  const port = await freePort();
  const blocker = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.on('listening', r));
  try {
    const dir = tmpDir('ml-port-');
    // Storage is checked first; give it reachable storage through a daemon we start.
    const d = await startDaemon();
    const f2 = writeConfig(dir, { listen_port: port, data_dir: path.join(dir, 'var'),
      database_url: d.config.database_url, redis_url: d.config.redis_url });
    const r = await runCommand(['serve', '--config', f2]);
    await d.stop();
    assert.strictEqual(r.code, 1);
    assert.match(oneLine(r.stderr), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: port already in use`));
  } finally {
    blocker.close();
  }
});

test('an unreachable database is a clear line, not a hang', async () => {
  const dir = tmpDir('ml-nodb-');
  const port = await freePort();
  const f = writeConfig(dir, { listen_port: port, data_dir: path.join(dir, 'var'),
    database_url: `host=127.0.0.1 port=${await freePort()} dbname=x user=x`, redis_url: 'redis://127.0.0.1:1' });
  const t0 = Date.now();
  const r = await runCommand(['serve', '--config', f], { timeoutMs: 30000 });
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /cannot connect to PostgreSQL/);
  assert.ok(Date.now() - t0 < 20000);
});

test('an unreachable Redis is a clear line', async () => {
  const d = await startDaemon();
  const dir = tmpDir('ml-noredis-');
  const f = writeConfig(dir, { listen_port: await freePort(), data_dir: path.join(dir, 'var'),
    database_url: d.config.database_url, redis_url: `redis://127.0.0.1:${await freePort()}` });
  const r = await runCommand(['serve', '--config', f], { timeoutMs: 30000 });
  await d.stop();
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /cannot connect to Redis/);
});

test('missing PostgreSQL binaries are named', async () => {
  const dir = tmpDir('ml-nopg-');
  const f = writeConfig(dir, { listen_port: await freePort(), data_dir: path.join(dir, 'var'),
    postgres_bin_dir: '/nonexistent/pgbin' });
  const r = await runCommand(['serve', '--config', f], { timeoutMs: 30000 });
  assert.strictEqual(r.code, 1);
  assert.match(oneLine(r.stderr), /PostgreSQL server binaries not found \(\/nonexistent\/pgbin\)/);
});

test('a low open-files soft limit is raised at start (two descriptors per peer)', async () => {
  const fs = require('fs');
  const d = await startDaemon({ wrap: ['prlimit', '--nofile=1024:8192', '--'] });
  try {
    const limits = fs.readFileSync(`/proc/${d.proc.pid}/limits`, 'utf8');
    const m = limits.match(/^Max open files\s+(\d+)\s+(\d+)/m);
    assert.ok(m, limits);
    assert.strictEqual(m[1], '8192'); // soft raised to the hard limit
    assert.strictEqual(m[2], '8192');
    assert.match(d.logs(), /open files limit raised from 1024 to 8192/);
  } finally {
    await d.stop();
  }
});
