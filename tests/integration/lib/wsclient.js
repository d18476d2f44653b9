// A small signaling client over the `ws` package for protocol tests:
// send raw text or JSON, await the next message (optionally of a type),
// await the close.
'use strict';
const WebSocket = require('ws');

class SigClient {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.ws.on('message', (data, isBinary) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch { m = { type: '<unparsable>', raw: data.toString(), isBinary }; }
      this.queue.push(m);
      this._pump();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this._pump();
    });
    this.ws.on('error', () => { /* close follows */ });
  }

  open() {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve(this);
      this.ws.once('open', () => resolve(this));
      this.ws.once('error', reject);
    });
  }

  _pump() {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      const idx = this.queue.findIndex(w.match);
      if (idx >= 0) {
        const [m] = this.queue.splice(idx, 1);
        this.waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.resolve(m);
      } else if (this.closed && !w.wantClose) {
        this.waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed (${this.closed.code}) while waiting; queue: ${JSON.stringify(this.queue)}`));
      }
    }
  }

  // Next message matching `type` (a string, or any when omitted).
  next(type, timeoutMs = 10000) {
    const match = (m) => !type || m.type === type;
    return new Promise((resolve, reject) => {
      const w = { match, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no '${type || 'any'}' message within ${timeoutMs} ms; queue: ${JSON.stringify(this.queue)}`));
      }, timeoutMs);
      this.waiters.push(w);
      this._pump();
    });
  }

  sendRaw(text, opts) { this.ws.send(text, opts); }
  send(obj) { this.ws.send(JSON.stringify(obj)); }

  async request(obj, replyType, timeoutMs) {
    this.send(obj);
    return this.next(replyType, timeoutMs);
  }

  waitClose(timeoutMs = 10000) {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection not closed')), timeoutMs);
      this.ws.once('close', () => { clearTimeout(t); resolve(this.closed); });
    });
  }

  close() { try { this.ws.close(); } catch { /* gone */ } }
}

async function connect(url) {
  return new SigClient(url).open();
}

module.exports = { SigClient, connect };
