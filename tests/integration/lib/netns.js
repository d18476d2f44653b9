// A private network namespace for one browser, joined to the host by a
// veth pair, with tc shaping/loss on the host side (traffic towards the
// browser). The daemon stays on 127.0.0.1: a small TCP forwarder on the
// host end of the veth carries HTTP/WebSocket, and the daemon gathers an
// ICE host candidate on the veth address (add it to ice_interfaces).
// Needs root (ip, tc). Names carry the test's pid so parallel runs do not
// collide.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { FLAGS, CHROMIUM } = require('./browser');

function sh(cmd, args, ignore = false) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    if (!ignore) throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr}`);
    return '';
  }
}

// nftables present (for loss())?
function lossAvailable() {
  try { sh('nft', ['--version']); return true; } catch { return false; }
}

function available() {
  if (process.getuid && process.getuid() !== 0) return false;
  try { sh('ip', ['netns', 'list']); sh('tc', ['-V']); return true; } catch { return false; }
}

// Create the namespace; returns {ns, hostIp, nsIp, dev, shape(), loss(),
// clear(), forward(port), launchBrowser(), destroy()}.
function createNetns() {
  const id = process.pid % 250 + 1;
  const ns = `mlroom${process.pid}`;
  const dev = `mlr${process.pid % 100000}h`;
  const peer = `mlr${process.pid % 100000}n`;
  const hostIp = `10.231.${id}.1`, nsIp = `10.231.${id}.2`;
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', peer, 'netns', ns]);
  sh('ip', ['addr', 'add', `${hostIp}/30`, 'dev', dev]);
  sh('ip', ['link', 'set', dev, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', peer]);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const servers = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-netns-'));
  const o = {
    ns, hostIp, nsIp, dev,
    clear() {
      sh('tc', ['qdisc', 'del', 'dev', dev, 'root'], true);
      sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'mlloss'], true);
    },
    // Rate limit towards the browser (kbit/s).
    shape(kbit) {
      o.clear();
      sh('tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '20kb', 'latency', '200ms']);
    },
    // Random loss of UDP towards the browser (percent): an nftables rule
    // inside the namespace (this kernel has no sch_netem).
    loss(pct) {
      o.clear();
      const nft = (...a) => sh('ip', ['netns', 'exec', ns, 'nft', ...a]);
      nft('add', 'table', 'inet', 'mlloss');
      nft('add chain inet mlloss in { type filter hook input priority 0; }');
      if (pct >= 100) nft('add', 'rule', 'inet', 'mlloss', 'in', 'meta', 'l4proto', 'udp', 'drop');
      else nft('add', 'rule', 'inet', 'mlloss', 'in', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100',
        '<', String(pct), 'drop');
    },
    // Forward hostIp:<free port> to 127.0.0.1:port (HTTP and WebSocket);
    // resolves with the base URL for pages in the namespace.
    forward(port) {
      return new Promise((resolve, reject) => {
        const srv = net.createServer((c) => {
          const u = net.connect(port, '127.0.0.1');
          c.pipe(u); u.pipe(c);
          c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
        });
        srv.on('error', reject);
        srv.listen(0, hostIp, () => { servers.push(srv); resolve(`http://${hostIp}:${srv.address().port}`); });
      });
    },
    async launchBrowser() {
      const wrapper = path.join(tmp, 'chromium');
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
      const userDataDir = fs.mkdtempSync(path.join(tmp, 'profile-'));
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: wrapper, headless: false, ignoreDefaultArgs: true, timeout: 60000,
        args: [...FLAGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe', 'about:blank'],
      });
      const logs = [];
      return {
        context, logs,
        async newPage() {
          const page = await context.newPage();
          page.on('console', (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
          return page;
        },
        async close() { await context.close(); },
      };
    },
    destroy() {
      for (const s of servers) s.close();
      o.clear();
      sh('ip', ['link', 'del', dev], true);
      sh('ip', ['netns', 'del', ns], true);
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  return o;
}

module.exports = { available, lossAvailable, createNetns };
