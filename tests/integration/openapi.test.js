// docs/openapi.yaml must describe every route the daemon serves, with the
// same permission. The document is read by indentation (two spaces under
// `paths:` for a path, four for a method), which is how we write it.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { runCommand, ROOT } = require('./lib/daemon');

function documented() {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8');
  const ops = new Map();
  let inPaths = false, cur = null, curOp = null;
  for (const line of text.split('\n')) {
    if (/^paths:\s*$/.test(line)) { inPaths = true; continue; }
    if (/^\S/.test(line)) { inPaths = false; continue; }
    if (!inPaths) continue;
    let m;
    if ((m = line.match(/^ {2}(\/\S*):\s*$/))) { cur = m[1]; continue; }
    if (cur && (m = line.match(/^ {4}(get|post|put|patch|delete):\s*$/))) {
      curOp = `${m[1].toUpperCase()} ${cur}`;
      ops.set(curOp, null);
      continue;
    }
    if (curOp && (m = line.match(/^ {6}x-permission:\s*(\w+)/))) ops.set(curOp, m[1]);
  }
  return ops;
}

test('every route is in docs/openapi.yaml with its permission', async () => {
  const r = await runCommand(['routes']);
  assert.strictEqual(r.code, 0, r.stderr);
  const routes = r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' '));
  assert.ok(routes.length >= 1);
  const ops = documented();
  const missing = [];
  for (const [method, pattern, perm] of routes) {
    const key = `${method} ${pattern}`;
    if (!ops.has(key)) missing.push(key);
    else assert.strictEqual(ops.get(key), perm, `${key}: x-permission should be ${perm}`);
  }
  assert.deepStrictEqual(missing, [], 'routes missing from docs/openapi.yaml');
});
