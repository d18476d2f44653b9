// MentorLink echo client: signaling protocol v0 (docs/signaling.md) over
// /ws, one RTCPeerConnection sending camera + microphone and a data
// channel, showing what the server echoes back. Tests drive it through
// window.echoState, window.echoStats(), window.echoSendDc() and friends.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const opt = {
    relay: params.get('relay') === '1',
    room: params.get('room') || 'echo',
    audio: params.get('audio') !== '0',
    video: params.get('video') !== '0',
    dc: params.get('dc') !== '0',
    autostart: params.get('autostart') !== '0',
  };

  const state = {
    phase: 'idle', // idle, media, joined, negotiating, connected, closed, failed
    peerId: null,
    iceServers: null,
    server: { ice: 'new', dtls: 'new' }, // from connection-state
    pc: { ice: 'new', connection: 'new' },
    dcOpen: false,
    errors: [],
    closed: null,
    localCandidates: 0,
    remoteCandidates: [],
    remoteEndOfCandidates: false,
    answerSdp: null,
  };
  window.echoState = state;

  let ws = null, pc = null, dc = null, stream = null;
  let nextId = 1;
  const pending = new Map(); // id -> {resolve, reject}
  let remoteSet = false;
  const queuedCandidates = [];
  const dcWaiters = [];

  const $ = (id) => document.getElementById(id);
  function log(...a) {
    const line = a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
    console.log('[echo]', line);
    const el = $('log');
    if (el) el.textContent += line + '\n';
  }
  function setPhase(p) {
    state.phase = p;
    const el = $('state');
    if (el) el.textContent = p;
  }

  function send(msg) {
    ws.send(JSON.stringify(msg));
  }

  // Send a message with an id; resolves with the reply of that id.
  function request(msg) {
    const id = 'c' + nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      send({ ...msg, id });
    });
  }

  async function addRemoteCandidate(c) {
    try {
      await pc.addIceCandidate(c);
    } catch (e) {
      log('addIceCandidate failed', String(e));
    }
  }

  function onMessage(ev) {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch (e) {
      log('bad message from server', ev.data);
      return;
    }
    if (m.id !== undefined && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.type === 'error') {
        state.errors.push(m);
        p.reject(Object.assign(new Error(`${m.code}: ${m.message}`), { reply: m }));
      } else {
        p.resolve(m);
      }
      return;
    }
    switch (m.type) {
      case 'candidate': {
        state.remoteCandidates.push(m.candidate);
        const c = { candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex };
        if (remoteSet) addRemoteCandidate(c); else queuedCandidates.push(c);
        break;
      }
      case 'end-of-candidates':
        state.remoteEndOfCandidates = true;
        if (remoteSet) addRemoteCandidate({ candidate: '' }); else queuedCandidates.push({ candidate: '' });
        break;
      case 'connection-state':
        state.server = { ice: m.ice, dtls: m.dtls };
        log('server state', m.ice, m.dtls);
        break;
      case 'closed':
        state.closed = m.reason;
        setPhase('closed');
        log('server closed the peer:', m.reason);
        break;
      case 'going-away':
        log('server going away');
        break;
      case 'error':
        state.errors.push(m);
        log('error', m.code, m.message);
        break;
      default:
        log('unhandled', m.type);
    }
  }

  function openSocket() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    ws = new WebSocket(url);
    ws.onmessage = onMessage;
    ws.onclose = (e) => {
      log('websocket closed', e.code, e.reason);
      for (const p of pending.values()) p.reject(new Error('websocket closed'));
      pending.clear();
    };
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('websocket error'));
    });
  }

  function setupDataChannel(ch) {
    ch.binaryType = 'arraybuffer';
    ch.onopen = () => { state.dcOpen = true; log('data channel open'); };
    ch.onclose = () => { state.dcOpen = false; };
    ch.onmessage = (e) => {
      const w = dcWaiters.shift();
      if (w) w(e.data);
      else log('data channel message', typeof e.data === 'string' ? e.data : `${e.data.byteLength} bytes`);
    };
  }

  async function negotiate(options) {
    setPhase('negotiating');
    const offer = await pc.createOffer(options);
    await pc.setLocalDescription(offer);
    const answer = await request({ type: 'offer', sdp: pc.localDescription.sdp });
    state.answerSdp = answer.sdp;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    remoteSet = true;
    while (queuedCandidates.length) await addRemoteCandidate(queuedCandidates.shift());
  }

  async function start() {
    if (pc) return;
    try {
      setPhase('media');
      stream = await navigator.mediaDevices.getUserMedia({
        audio: opt.audio,
        video: opt.video ? { width: 640, height: 480, frameRate: 30 } : false,
      });
      $('local').srcObject = stream;
      await openSocket();
      const joined = await request({ type: 'join', room: opt.room, mode: 'echo' });
      state.peerId = joined.peer_id;
      state.iceServers = joined.ice_servers;
      setPhase('joined');
      pc = new RTCPeerConnection({
        iceServers: joined.ice_servers,
        iceTransportPolicy: opt.relay ? 'relay' : 'all',
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
      });
      window.echoPc = pc;
      const remoteStream = new MediaStream();
      $('remote').srcObject = remoteStream;
      pc.ontrack = (e) => {
        remoteStream.addTrack(e.track);
        log('remote track', e.track.kind);
      };
      pc.onicecandidate = (e) => {
        if (e.candidate && e.candidate.candidate) {
          state.localCandidates++;
          send({ type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid,
            sdpMLineIndex: e.candidate.sdpMLineIndex });
        } else if (!e.candidate) {
          send({ type: 'end-of-candidates' });
        }
      };
      pc.oniceconnectionstatechange = () => { state.pc.ice = pc.iceConnectionState; };
      pc.onconnectionstatechange = () => {
        state.pc.connection = pc.connectionState;
        if (pc.connectionState === 'connected') setPhase('connected');
        if (pc.connectionState === 'failed') setPhase('failed');
      };
      for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendrecv', streams: [stream] });
      if (opt.dc) {
        dc = pc.createDataChannel('echo');
        setupDataChannel(dc);
      }
      await negotiate();
    } catch (e) {
      log('start failed:', String(e && e.message || e));
      state.errors.push({ code: 'client', message: String(e && e.message || e) });
      setPhase('failed');
    }
  }

  function stop() {
    if (ws && ws.readyState === WebSocket.OPEN) send({ type: 'leave' });
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    pc = null;
    setPhase('idle');
  }

  // Send one message and resolve with the next message the server echoes.
  window.echoSendDc = function (data, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      if (!dc || dc.readyState !== 'open') return reject(new Error('data channel not open'));
      const t = setTimeout(() => reject(new Error('no echo within ' + timeoutMs + ' ms')), timeoutMs);
      dcWaiters.push((d) => {
        clearTimeout(t);
        resolve(typeof d === 'string' ? { type: 'string', data: d }
          : { type: 'binary', data: Array.from(new Uint8Array(d)) });
      });
      dc.send(typeof data === 'string' ? data : new Uint8Array(data));
    });
  };

  // A summary of pc.getStats() for tests.
  window.echoStats = async function () {
    if (!pc) return null;
    const report = await pc.getStats();
    const out = { inbound: {}, outbound: {}, transport: null, pair: null, local: null, remote: null };
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.inbound[s.kind] = { packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
          framesDecoded: s.framesDecoded, packetsLost: s.packetsLost, ssrc: s.ssrc,
          keyFramesDecoded: s.keyFramesDecoded, codec: (byId.get(s.codecId) || {}).mimeType };
      } else if (s.type === 'outbound-rtp') {
        out.outbound[s.kind] = { packetsSent: s.packetsSent, bytesSent: s.bytesSent,
          framesEncoded: s.framesEncoded, ssrc: s.ssrc, codec: (byId.get(s.codecId) || {}).mimeType };
      } else if (s.type === 'transport') {
        out.transport = { srtpCipher: s.srtpCipher, dtlsCipher: s.dtlsCipher, dtlsState: s.dtlsState,
          tlsVersion: s.tlsVersion, iceState: s.iceState, dtlsRole: s.dtlsRole,
          selectedCandidatePairId: s.selectedCandidatePairId };
      }
    });
    if (out.transport && out.transport.selectedCandidatePairId) {
      const p = byId.get(out.transport.selectedCandidatePairId);
      if (p) {
        out.pair = { state: p.state, nominated: p.nominated, bytesSent: p.bytesSent,
          bytesReceived: p.bytesReceived };
        const l = byId.get(p.localCandidateId), r = byId.get(p.remoteCandidateId);
        if (l) out.local = { type: l.candidateType, address: l.address, port: l.port, protocol: l.protocol,
          relayProtocol: l.relayProtocol };
        if (r) out.remote = { type: r.candidateType, address: r.address, port: r.port, protocol: r.protocol };
      }
    }
    return out;
  };

  // The server's counters for this peer ({type:"stats"} message).
  window.echoServerStats = () => request({ type: 'stats' });
  // ICE restart: a new offer with new ICE credentials.
  window.echoRestartIce = () => negotiate({ iceRestart: true });
  // Raw signaling access for tests.
  window.echoRequest = request;
  window.echoStart = start;
  window.echoStop = stop;

  $('start').onclick = start;
  $('stop').onclick = stop;
  $('send').onclick = () => window.echoSendDc($('msg').value).then((r) => log('echoed', r.data), (e) => log(String(e)));
  if (opt.autostart) start();
})();
