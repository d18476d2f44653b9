// Run the `mlrec` recording tool (tools/recording/mlrec) to completion:
// {code, stdout, stderr}. The binary is $MLREC_BIN, else the one next to
// $ML_BIN's build (so the sanitizer run uses the sanitizer build), else
// build/tools/recording/mlrec. A sanitizer report on stderr fails.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function mlrecBin() {
  if (process.env.MLREC_BIN) return process.env.MLREC_BIN;
  if (process.env.ML_BIN) return path.join(path.dirname(path.dirname(process.env.ML_BIN)), 'tools', 'recording', 'mlrec');
  return path.join(ROOT, 'build', 'tools', 'recording', 'mlrec');
}

function mlrec(args, { env = {}, timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(mlrecBin(), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      if (/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(stderr)) {
        reject(new Error('sanitizer report from mlrec ' + args.join(' ') + ':\n' + stderr));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

module.exports = { mlrec, mlrecBin };
