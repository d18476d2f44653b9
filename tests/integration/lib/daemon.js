// Start the real mentorlink daemon for a test.
//
//   const d = await startDaemon({ config: { ice_interfaces: '127.0.0.1' } });
//   await fetch(d.baseUrl + '/readyz');   // d.wsUrl for signaling
//   await d.stop();                       // SIGTERM, expects a clean exit
//
// By default the daemon gets a fresh database in the test process's
// PostgreSQL and its own fresh Redis (see servers.js). With
// `embedded: true` it gets neither URL and runs its own private servers
// under its data_dir. The binary is $ML_BIN (set by tools/test; the
// sanitizer run points it at the ASan build) or build/signaling/mentorlink.
// stop() fails the test if the daemon printed a sanitizer report.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { postgres, startRedis, waitFor, tmpDir } = require('./servers');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.ML_BIN || path.join(ROOT, 'build', 'signaling', 'mentorlink');
const SANITIZED = process.env.ML_SANITIZED === '1';

// A free port below the kernel's ephemeral range: a port the kernel
// hands out for "port 0" (as it did here first) can be taken again by
// whatever binds port 0 before the daemon binds it (seen in CI: the
// daemon's own mlfakepay got the daemon's HTTP port).
function ephemeralLow() {
  try {
    const lo = parseInt(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    if (lo > 2048) return lo;
  } catch (e) { /* not Linux: below the IANA dynamic range */ }
  return 49152;
}

function tryListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.on('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePort() {
  const hi = ephemeralLow() - 1;
  const lo = Math.max(1025, hi - 12000);
  for (let i = 0; i < 200; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port in ${lo}-${hi}`);
}

function sanitizerReport(text) {
  const m = text.match(/(ERROR: (AddressSanitizer|LeakSanitizer)[\s\S]{0,3000}|runtime error:[^\n]*)/);
  return m ? m[0] : null;
}

function writeConfig(dir, config) {
  const lines = Object.entries(config).map(([k, v]) => `${k} = "${String(v)}"`);
  const file = path.join(dir, 'mentorlink.conf');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// Run a program to completion: {code, signal, stdout, stderr}; killed
// after timeoutMs.
// onStderr, if given, sees the standard error collected so far after each chunk.
function runProgram(bin, args, { env = {}, timeoutMs = 60000, onStderr = null } = {}) {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; if (onStderr) onStderr(stderr); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Run a mentorlink subcommand to completion.
function runCommand(args, opts) {
  return runProgram(BIN, args, opts);
}

// A program built in the same build directory as the daemon under test
// (e.g. 'tools/loadgen/mlload'), unless the environment variable names another.
function buildTool(rel, envVar) {
  return process.env[envVar] || path.join(path.dirname(path.dirname(BIN)), rel);
}

async function startDaemon(opts = {}) {
  const dir = tmpDir('ml-daemon-');
  const port = opts.port || await freePort();
  let db = null, redis = null;
  const config = {
    listen_host: '127.0.0.1',
    listen_port: port,
    data_dir: path.join(dir, 'var'),
    log_level: 'info',
    shutdown_timeout_ms: 5000,
    ...(opts.config || {}),
  };
  if (!opts.embedded) {
    if (!config.database_url) {
      db = await (await postgres()).createDatabase();
      config.database_url = db.url;
    }
    if (!config.redis_url) {
      redis = await startRedis();
      config.redis_url = redis.url;
    }
  }
  const cfgFile = writeConfig(dir, config);
  const env = { ...process.env, ...(opts.env || {}) };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  // opts.wrap: a command that execs the daemon in its own place (same pid),
  // e.g. ['prlimit', '--nofile=1024:8192', '--'].
  const argv = [BIN, 'serve', '--config', cfgFile];
  const cmd = opts.wrap ? [...opts.wrap, ...argv] : argv;
  const proc = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const d = {
    dir, port, proc, config, db, redis, cfgFile,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    logs: () => output,
    exited,
    async stop({ signal = 'SIGTERM', timeoutMs = 20000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const res = await exited;
      clearTimeout(timer);
      if (redis) redis.stop();
      const report = sanitizerReport(output);
      if (report) throw new Error('sanitizer report from the daemon:\n' + report);
      if (signal === 'SIGTERM' && res.code !== 0) {
        throw new Error(`daemon exited with ${res.code ?? res.signal} after SIGTERM; logs:\n${output.slice(-4000)}`);
      }
      return res;
    },
  };
  const startTimeout = (opts.embedded ? 90000 : 30000) * (SANITIZED ? 2 : 1);
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}: ${output.slice(-2000)}`);
      const r = await fetch(d.baseUrl + '/healthz');
      return r.status === 200;
    }, startTimeout, 'the daemon to answer /healthz');
  } catch (e) {
    proc.kill('SIGKILL');
    if (redis) redis.stop();
    throw e;
  }
  return d;
}

module.exports = { startDaemon, runCommand, runProgram, buildTool, freePort, writeConfig, BIN, ROOT, SANITIZED, sanitizerReport };
