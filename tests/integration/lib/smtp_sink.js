// A small SMTP server for tests (RFC 5321 subset, loopback only):
// EHLO/HELO, MAIL FROM, RCPT TO, DATA (with dot-unstuffing), RSET, NOOP,
// QUIT. Every accepted message is captured with its envelope, raw text,
// headers and decoded parts; failNext(n) makes the next n messages fail
// with "451 4.3.0" after their DATA, to exercise retries.
//
//   const sink = await startSmtpSink();
//   // daemon config: smtp_url = sink.url
//   const m = await sink.waitFor((m) => m.to.includes('a@example.com'), 5000);
//   m.subject, m.text, m.html, m.attachments[0].content, m.headers['message-id']
//   sink.failNext(2); sink.attempts  // every DATA received, accepted or not
//   await sink.stop();
'use strict';
const net = require('net');

// RFC 2047 encoded words (B and Q) in a header value.
function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_, cs, enc, text) => {
    const buf = enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi,
        (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return buf.toString(/utf-?8/i.test(cs) ? 'utf8' : 'latin1');
  });
}

function decodeQP(text) {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(soft.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

// Split "headers CRLF CRLF body"; headers unfolded, names lower-cased.
function parseEntity(raw) {
  const idx = raw.indexOf('\r\n\r\n');
  const head = idx >= 0 ? raw.slice(0, idx) : raw;
  const body = idx >= 0 ? raw.slice(idx + 4) : '';
  const headers = {};
  const list = [];
  for (const line of head.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    list.push([name, value]);
    if (!(name in headers)) headers[name] = value;
  }
  return { headers, list, body };
}

function param(value, name) {
  const m = (value || '').match(new RegExp(`;\\s*${name}="?([^";]+)"?`, 'i'));
  return m ? m[1] : null;
}

// Walk a MIME entity: collect text, html and attachments into out.
function walk(entity, out, depth = 0) {
  const type = (entity.headers['content-type'] || 'text/plain').toLowerCase();
  const cte = (entity.headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (type.startsWith('multipart/') && depth < 5) {
    const boundary = param(entity.headers['content-type'], 'boundary');
    out.structure.push(`${'  '.repeat(depth)}${type.split(';')[0]}`);
    if (!boundary) return;
    const parts = entity.body.split(`--${boundary}`);
    for (const p of parts.slice(1)) {
      if (p.startsWith('--')) break;
      walk(parseEntity(p.replace(/^\r\n/, '')), out, depth + 1);
    }
    return;
  }
  out.structure.push(`${'  '.repeat(depth)}${type.split(';')[0]}`);
  let content = entity.body.replace(/\r\n$/, '');
  let buf;
  if (cte === 'base64') buf = Buffer.from(content.replace(/\s+/g, ''), 'base64');
  else if (cte === 'quoted-printable') buf = decodeQP(content);
  else buf = Buffer.from(content, 'latin1');
  const disposition = entity.headers['content-disposition'] || '';
  if (/^attachment/i.test(disposition)) {
    out.attachments.push({
      filename: param(disposition, 'filename'),
      contentType: entity.headers['content-type'],
      content: buf,
    });
  } else if (type.startsWith('text/html') && out.html === null) {
    out.html = buf.toString('utf8');
  } else if (type.startsWith('text/plain') && out.text === null) {
    out.text = buf.toString('utf8');
  }
}

function parseMessage(raw) {
  const top = parseEntity(raw);
  const out = { text: null, html: null, attachments: [], structure: [] };
  walk(top, out);
  return {
    headers: top.headers,
    headerList: top.list,
    subject: decodeWords(top.headers.subject || ''),
    ...out,
  };
}

function startSmtpSink() {
  const messages = [];
  const attempts = [];
  const sockets = new Set();
  const waiters = [];
  let failCount = 0;

  function deliver(msg) {
    messages.push(msg);
    for (const w of waiters.slice()) {
      if (w.pred(msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(msg);
      }
    }
  }

  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    let inData = false;
    let env = { from: null, to: [] };
    const reply = (line) => { if (!sock.destroyed) sock.write(line + '\r\n'); };
    reply('220 sink.test ESMTP ready');

    function finishData(raw) {
      const lines = raw.split('\r\n').map((l) => (l.startsWith('..') ? l.slice(1) : l));
      const text = lines.join('\r\n');
      attempts.push({ from: env.from, to: env.to.slice(), at: Date.now(), rejected: failCount > 0 });
      if (failCount > 0) {
        failCount--;
        reply('451 4.3.0 Temporary failure, try again later');
      } else {
        deliver({ from: env.from, to: env.to.slice(), raw: text, ...parseMessage(text) });
        reply('250 2.0.0 OK queued');
      }
      env = { from: null, to: [] };
    }

    function command(line) {
      const verb = line.split(' ')[0].toUpperCase();
      const arg = line.slice(verb.length).trim();
      switch (verb) {
        case 'EHLO':
          sock.write('250-sink.test greets you\r\n250-8BITMIME\r\n250-SIZE 52428800\r\n250 HELP\r\n');
          return;
        case 'HELO': reply('250 sink.test'); return;
        case 'MAIL': {
          const m = arg.match(/^FROM:\s*<([^>]*)>/i);
          if (!m) { reply('501 5.5.4 Syntax: MAIL FROM:<address>'); return; }
          env = { from: m[1], to: [] };
          reply('250 2.1.0 OK');
          return;
        }
        case 'RCPT': {
          const m = arg.match(/^TO:\s*<([^>]+)>/i);
          if (!m) { reply('501 5.5.4 Syntax: RCPT TO:<address>'); return; }
          if (env.from === null) { reply('503 5.5.1 MAIL first'); return; }
          env.to.push(m[1]);
          reply('250 2.1.5 OK');
          return;
        }
        case 'DATA':
          if (!env.to.length) { reply('503 5.5.1 RCPT first'); return; }
          inData = true;
          reply('354 End data with <CR><LF>.<CR><LF>');
          return;
        case 'RSET': env = { from: null, to: [] }; reply('250 2.0.0 OK'); return;
        case 'NOOP': reply('250 2.0.0 OK'); return;
        case 'QUIT': reply('221 2.0.0 Bye'); sock.end(); return;
        default: reply('502 5.5.2 Command not recognized');
      }
    }

    sock.setEncoding('latin1');
    sock.on('data', (chunk) => {
      buf += chunk;
      for (;;) {
        if (inData) {
          const end = buf.startsWith('.\r\n') ? 0 : buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const raw = end === 0 ? '' : buf.slice(0, end);
          buf = buf.slice(end === 0 ? 3 : end + 5);
          inData = false;
          finishData(raw);
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        command(line);
      }
    });
  });

  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        url: `smtp://127.0.0.1:${port}`,
        messages,
        attempts,
        failNext(n) { failCount = n; },
        waitFor(pred = () => true, timeoutMs = 10000) {
          const found = messages.find(pred);
          if (found) return Promise.resolve(found);
          return new Promise((res, rej) => {
            const w = { pred, resolve: res };
            w.timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              rej(new Error(`no matching email within ${timeoutMs} ms (${messages.length} received)`));
            }, timeoutMs);
            waiters.push(w);
          });
        },
        stop() {
          for (const s of sockets) s.destroy();
          return new Promise((res) => server.close(() => res()));
        },
      });
    });
  });
}

module.exports = { startSmtpSink, parseMessage, decodeWords };
