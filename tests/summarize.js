// Sum up a tools/test run: meson's testlog.json files (each TAP "ok"/"not
// ok" line is one case; a test binary that crashed before printing its plan
// counts as one failure) and node:test TAP reports ("# pass N" / "# fail N").
// Prints a breakdown and, last, the single line "N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
let passed = 0, failed = 0, skipped = 0;
const lines = [];

function countMeson(file, label) {
  let p = 0, f = 0, s = 0;
  const failures = [];
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!raw.trim()) continue;
    let t;
    try { t = JSON.parse(raw); } catch { continue; }
    const out = t.stdout || '';
    const oks = (out.match(/^ok \d+/gm) || []).length;
    const bads = (out.match(/^not ok \d+/gm) || []).length;
    if (t.result === 'SKIP') { s++; continue; }
    p += oks;
    f += bads;
    if (t.result !== 'OK' && bads === 0) { f++; failures.push(t.name + ' (' + t.result + ')'); }
    else if (bads) failures.push(t.name);
  }
  lines.push(`${label}: ${p} passed, ${f} failed` + (failures.length ? ` [${failures.join(', ')}]` : ''));
  passed += p; failed += f; skipped += s;
}

function countTap(file, label) {
  const text = fs.readFileSync(file, 'utf8');
  const num = (re) => { const m = [...text.matchAll(re)]; return m.length ? Number(m[m.length - 1][1]) : 0; };
  const p = num(/^# pass (\d+)/gm);
  const f = num(/^# fail (\d+)/gm) + num(/^# cancelled (\d+)/gm);
  const s = num(/^# skipped (\d+)/gm) + num(/^# todo (\d+)/gm);
  const names = [...text.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  lines.push(`${label}: ${p} passed, ${f} failed` + (names.length ? ` [${names.join(', ')}]` : ''));
  passed += p; failed += f; skipped += s;
}

for (const label of ['normal', 'asan']) {
  const unit = path.join(dir, `${label}-unit.json`);
  const tap = path.join(dir, `${label}-integration.tap`);
  if (fs.existsSync(unit)) countMeson(unit, `${label} unit+fuzz`);
  if (fs.existsSync(tap)) countTap(tap, `${label} integration`);
}
const stagesFile = path.join(dir, 'stages');
if (fs.existsSync(stagesFile)) {
  for (const st of fs.readFileSync(stagesFile, 'utf8').split('\n').filter(Boolean)) {
    lines.push(`stage failed: ${st}`);
    failed++;
  }
}
console.log('--- summary');
for (const l of lines) console.log(l);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed ? 1 : 0);
