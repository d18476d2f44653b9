// tools/bench/merge_runs.py: the verdicts the benchmark's ramp stops on,
// from mlload reports written here (the benchmark itself needs root, a
// network namespace and Janus, and takes minutes).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { tmpDir } = require('./lib/servers');

const MERGE = path.join(__dirname, '..', '..', 'tools', 'bench', 'merge_runs.py');

// One mlload process's report: 10 peers connected from t=100 to t=110 s,
// 100 packets a second, using cores of its 1 CPU.
function part(cores, jitter = 1) {
  const timeline = [];
  for (let t = 0; t <= 10; t++) timeline.push([100 + t, 100 * t, 10]);
  return {
    ok: true,
    duration_s: 10,
    received: { packets: 1000 },
    peers: { connected: 10 },
    loss: { expected: 1000, lost: 0, jitter_ms: jitter },
    // the 900 µs bucket's largest sample was 850 µs
    delay_ms: { hist_us: [[500, 9], [900, 1]], max: 0.85, max_us: 850 },
    load: { cpu_cores: cores, cpus: 1, saturated: false, why: `no (${cores} of 1 CPU(s))` },
    timeline,
  };
}

// Merge two parts; serverTicks over the run (1/100 s), cpuSamples as
// [unix time, ticks] or null.
function merge(dir, coresA, coresB, serverTicks, cpuSamples, partB = {}) {
  const a = path.join(dir, 'a.json'), b = path.join(dir, 'b.json'), out = path.join(dir, 'out.json');
  fs.writeFileSync(a, JSON.stringify(part(coresA)));
  fs.writeFileSync(b, JSON.stringify({ ...part(coresB, 4), ...partB }));
  const env = { ...process.env };
  delete env.CPU_SAMPLES;
  if (cpuSamples) {
    const f = path.join(dir, 'cpu');
    fs.writeFileSync(f, cpuSamples.map(([t, v]) => `${t} ${v}`).join('\n') + '\n');
    env.CPU_SAMPLES = f;
  }
  execFileSync('python3', [MERGE, out, String(serverTicks), '1000', '3000', '0', '10', a, b], { env });
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

test('bench merge: two load processes that together fill their CPU are saturated', () => {
  const dir = tmpDir('ml-merge-');
  try {
    const full = merge(dir, 0.5, 0.45, 100, null);
    assert.strictEqual(full.load.saturated, true, JSON.stringify(full.load));
    assert.match(full.load.why, /together used 0\.95 of the 1 CPU/);
    const room = merge(dir, 0.3, 0.3, 100, null);
    assert.strictEqual(room.load.saturated, false, JSON.stringify(room.load));
    assert.strictEqual(room.received.packets, 2000);
    assert.strictEqual(room.delay_ms.samples, 20);
    assert.strictEqual(room.delay_ms.p50, 0.5);
    assert.strictEqual(room.delay_ms.p99, 0.85, 'a quantile is not above the largest sample');
    assert.strictEqual(room.delay_ms.max_us, 850, 'the largest of the processes, not their sum');
    assert.strictEqual(room.loss.jitter_ms, 2.5, 'both processes weighted by packets received');
    // B received three times A's packets: its jitter weighs three times as much
    const heavy = merge(dir, 0.3, 0.3, 100, null, { received: { packets: 3000 } });
    assert.strictEqual(heavy.loss.jitter_ms, 3.25);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bench merge: the server-under-one-core rule reads the steady state', () => {
  const dir = tmpDir('ml-merge-');
  try {
    // 0.97 core while every peer is connected; the whole-run average over
    // the 10 s argument is lower (the ticks given span less)
    const samples = [];
    for (let t = 0; t <= 10; t++) samples.push([100 + t, 97 * t]);
    const r = merge(dir, 0.2, 0.2, 800, samples);
    assert.ok(Math.abs(r.server.cpu_cores - 0.8) < 1e-9, JSON.stringify(r.server));
    assert.ok(r.server.steady, JSON.stringify(r.server));
    assert.ok(Math.abs(r.server.steady.cpu_cores - 0.97) < 0.01, JSON.stringify(r.server.steady));
    assert.ok(r.server.limit_cores >= 0.95, JSON.stringify(r.server));
    // without samples the whole-run figure is all there is
    const w = merge(dir, 0.2, 0.2, 800, null);
    assert.ok(Math.abs(w.server.limit_cores - 0.8) < 1e-9, JSON.stringify(w.server));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
