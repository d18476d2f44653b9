// A private coturn (turnserver) on 127.0.0.1 for relay tests: TURN REST
// credentials (use-auth-secret), loopback peers allowed, no CLI, no TLS,
// logs and pid file in a temporary folder.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { freePort } = require('./daemon');

async function startTurn() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-turn-'));
  const port = await freePort();
  const secret = crypto.randomBytes(16).toString('hex');
  const minPort = 49152 + crypto.randomInt(10000);
  const args = [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--min-port=${minPort}`, `--max-port=${minPort + 200}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=mentorlink.test',
    '--fingerprint', '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls',
    '--no-multicast-peers', '--simple-log', `--log-file=${path.join(dir, 'turn.log')}`,
    `--pidfile=${path.join(dir, 'turn.pid')}`, '--no-stdout-log', '--verbose',
  ];
  const proc = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (b) => { output += b; });
  proc.stderr.on('data', (b) => { output += b; });
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  // Wait until it listens (a UDP port cannot be probed by connect; read the log).
  const logFile = path.join(dir, 'turn.log');
  const end = Date.now() + 10000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`turnserver exited: ${output}`);
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    if (/listener opened on|IPv4\. UDP listener opened/i.test(log) || /Total General servers/i.test(log)) break;
    if (Date.now() > end) break; // carry on; the test will tell
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, secret, dir,
    uri: `turn:127.0.0.1:${port}?transport=udp`,
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') + output,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 3000); proc.once('exit', () => { clearTimeout(t); r(); }); });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startTurn };
