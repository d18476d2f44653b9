// One interactive PostgreSQL connection of the test itself (a psql child
// process on the test cluster's socket), for holding locks and open
// transactions while the daemon works:
//
//   const s = await pgSession(d.db.name);
//   await s.run("BEGIN; SELECT 1 FROM sessions WHERE id = 7 FOR UPDATE;");
//   ... the daemon now waits on that row ...
//   await s.run('ROLLBACK;');
//   s.close();
//
// run() resolves with the rows the statements printed (unaligned, tuples
// only) once psql has executed them; statements that block make it wait.
'use strict';
const { spawn } = require('child_process');
const { postgres } = require('./servers');

let marks = 0;

async function pgSession(dbName) {
  const pg = await postgres();
  const p = spawn('psql', ['-h', pg.sock, '-U', 'mentorlink', '-d', dbName, '-X', '-q', '-t', '-A',
    '-v', 'ON_ERROR_STOP=0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', errs = '';
  let waiter = null;
  p.stdout.on('data', (d) => {
    out += d;
    if (waiter) waiter();
  });
  p.stderr.on('data', (d) => { errs += d; });
  const exited = new Promise((resolve) => p.on('exit', resolve));
  return {
    // Send SQL followed by a marker \echo and wait for the marker.
    run(sql, timeoutMs = 60000) {
      marks += 1;
      const mark = `__done_${marks}__`;
      const start = out.length;
      p.stdin.write(`${sql}\n\\echo ${mark}\n`);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { waiter = null; reject(new Error(`psql: no answer to ${sql}; stderr: ${errs}`)); }, timeoutMs);
        waiter = () => {
          const i = out.indexOf(mark, start);
          if (i < 0) return;
          clearTimeout(t);
          waiter = null;
          resolve(out.slice(start, i).trim());
        };
        waiter();
      });
    },
    errors: () => errs,
    async close() {
      p.stdin.end('\\q\n');
      await exited;
    },
  };
}

module.exports = { pgSession };
