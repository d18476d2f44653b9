// Launch Debian's Chromium for WebRTC tests through playwright-core.
//
//   const b = await launchBrowser();
//   const page = await b.newPage();
//   ...
//   await b.close();   // also removes the temporary profile
//
// Chromium gets exactly the flags below (playwright's own defaults are
// turned off) plus a fresh --user-data-dir and the debugging pipe that
// playwright talks through. The fake devices give a 30 fps test pattern and
// a beeping audio track; --allow-loopback-in-peer-connection makes Chromium
// gather 127.0.0.1 host candidates, which is what the tests use.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.ML_CHROMIUM || '/usr/bin/chromium';

const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream=fps=30',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

async function launchBrowser({ extraArgs = [] } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: false, // --headless=new is in FLAGS
      ignoreDefaultArgs: true,
      args: [...FLAGS, ...extraArgs, `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe',
        'about:blank'],
      timeout: 60000,
    });
  } catch (e) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const logs = [];
  return {
    context,
    logs,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
      return page;
    },
    async close() {
      try {
        await context.close();
      } finally {
        fs.rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

module.exports = { launchBrowser, FLAGS, CHROMIUM };
