// Real PostgreSQL and Redis servers for integration tests, started from the
// Debian binaries in a temporary folder, on unix sockets, and stopped when
// the test process exits. PostgreSQL runs as the `postgres` user when the
// tests run as root (it refuses root). Each daemon gets a fresh database
// (CREATE DATABASE) and a fresh Redis.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const children = new Set();
// Temporary folders made by tmpDir(): removed when the test process exits
// (after its servers are killed), unless ML_KEEP_TMP=1 keeps them for a
// post-mortem. Without this every test file left ~75 MB (a PostgreSQL
// cluster) behind and repeated runs filled the disk.
const tmpDirs = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (process.env.ML_KEEP_TMP === '1') return;
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 }); } catch { /* a server still writing */ }
  }
});

function pgBinDir() {
  const base = '/usr/lib/postgresql';
  const versions = fs.readdirSync(base).map(Number).filter((v) => v > 0).sort((a, b) => b - a);
  for (const v of versions) {
    const dir = path.join(base, String(v), 'bin');
    if (fs.existsSync(path.join(dir, 'postgres'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
}

function postgresUser() {
  if (process.getuid() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch (e) {
      lastErr = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}` + (lastErr ? `: ${lastErr.message}` : ''));
}

function tmpDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  tmpDirs.add(d);
  return d;
}

let pgPromise = null;

// One PostgreSQL cluster per test process (started on first use).
function postgres() {
  if (!pgPromise) pgPromise = startPostgres();
  return pgPromise;
}

async function startPostgres() {
  const bin = pgBinDir();
  const dir = tmpDir('ml-pg-');
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'run');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.mkdirSync(sock, { mode: 0o755 });
  const user = postgresUser();
  if (user) {
    for (const d of [dir, data, sock]) fs.chownSync(d, user.uid, user.gid);
  }
  const opts = user ? { uid: user.uid, gid: user.gid } : {};
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'mentorlink', '-A', 'trust', '-E', 'UTF8',
    '--locale=C', '--no-sync'], { ...opts, stdio: 'ignore' });
  const log = fs.openSync(path.join(dir, 'postgres.log'), 'a');
  const proc = spawn(path.join(bin, 'postgres'), ['-D', data, '-c', 'listen_addresses=',
    '-c', `unix_socket_directories=${sock}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off', '-c', 'max_connections=300'], { ...opts, stdio: ['ignore', log, log] });
  children.add(proc);
  proc.unref(); // the 'exit' hook above stops it; don't keep the test process alive
  const pg = {
    dir, sock, proc,
    psql(db, sql) {
      return execFileSync('psql', ['-h', sock, '-U', 'mentorlink', '-d', db, '-v', 'ON_ERROR_STOP=1',
        '-X', '-q', '-t', '-A', '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    },
    async createDatabase() {
      const name = 't_' + Math.random().toString(36).slice(2, 10);
      pg.psql('postgres', `CREATE DATABASE ${name}`);
      return { name, url: `host=${sock} dbname=${name} user=mentorlink` };
    },
    stop() {
      children.delete(proc);
      proc.kill('SIGINT');
    },
  };
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error('postgres exited; see ' + path.join(dir, 'postgres.log'));
    pg.psql('postgres', 'SELECT 1');
    return true;
  }, 30000, 'test PostgreSQL');
  return pg;
}

// A fresh Redis on a unix socket.
async function startRedis() {
  const dir = tmpDir('ml-redis-');
  const sock = path.join(dir, 'redis.sock');
  const proc = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700',
    '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.add(proc);
  proc.unref();
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error('redis-server exited');
    return execFileSync('redis-cli', ['-s', sock, 'PING'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG';
  }, 10000, 'test Redis');
  return {
    dir, sock, proc, url: `unix://${sock}`,
    cli(...args) {
      return execFileSync('redis-cli', ['-s', sock, ...args], { encoding: 'utf8' }).trim();
    },
    stop() {
      children.delete(proc);
      proc.kill('SIGTERM');
    },
  };
}

module.exports = { postgres, startRedis, waitFor, sleep, tmpDir, children };
