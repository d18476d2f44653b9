// MentorLink room client (docs/signaling.md, "Room mode"): one
// RTCPeerConnection per participant. The client always offers: its own
// tracks as sendonly m-lines (the mentor's camera with three simulcast
// encodings l/m/h, lowest first), and one recvonly m-line per track it
// subscribes to, bound to the track id in the offer's `subscribe` map.
// Tests drive it through window.room.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  // A room token (from POST /api/v1/sessions/{id}/join) names the role:
  // publish -> mentor, subscribe -> mentee.
  const roleFromToken = (t) => {
    try {
      const claims = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return claims.role === 'publish' ? 'mentor' : 'mentee';
    } catch { return null; }
  };
  const token = params.get('token');
  const opt = {
    room: params.get('room') || 'demo',
    token,
    role: params.get('role') || (token && roleFromToken(token)) || 'mentee',
    name: params.get('name') || '',
    screen: params.get('screen') === '1',
    pin: params.get('pin') || null,
    simulcast: params.get('simulcast') !== '0',
    // Do not subscribe to tracks of participants whose name starts with this
    // (tests: an observer that watches only the mentor).
    skipName: params.get('skipName') || null,
  };
  const state = {
    phase: 'idle', // idle, joined, connected, closed, failed
    peerId: null,
    errors: [],
    participants: {}, // id -> {id, name, role, floor}: everyone, or in a large room (roster 'partial') those who may publish
    roster: 'full',
    count: 0, // members of the room, this client included
    tracks: {}, // track id -> info (published by others)
    layers: {}, // mid -> {rid: active} last told by the server
    floor: false,
    screen: false, // sharing a screen (mentor)
    events: [],
    muted: {}, // track id -> {muted, by} from track-muted
    negotiations: 0,
    recording: false, // the room is being recorded (server notices)
    recordingNotices: [],
    pc: { ice: 'new', connection: 'new' },
  };
  window.roomState = state;

  let ws, pc, nextId = 1, camStream = null, micTrack = null, floorTx = null, screenTx = null;
  const pending = new Map();
  const subs = new Map(); // track id -> transceiver
  const $ = (id) => document.getElementById(id);
  function log(...a) {
    const line = a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
    console.log('[room]', line);
    const el = $('log');
    if (el) el.textContent += line + '\n';
  }
  function setPhase(p) { state.phase = p; if ($('state')) $('state').textContent = p; }
  const send = (m) => ws.send(JSON.stringify(m));
  function request(msg) {
    const id = 'c' + nextId++;
    return new Promise((resolve, reject) => { pending.set(id, { resolve, reject }); send({ ...msg, id }); });
  }

  // Offers are serialized: one negotiation at a time, a request during one
  // triggers another afterwards.
  let negotiating = null, again = false, restartNext = false;
  function negotiate(iceRestart = false) {
    if (iceRestart) restartNext = true;
    if (negotiating) { again = true; return negotiating; }
    negotiating = (async () => {
      do {
        again = false;
        const restart = restartNext;
        restartNext = false;
        const offer = await pc.createOffer(restart ? { iceRestart: true } : {});
        await pc.setLocalDescription(offer);
        const subscribe = {};
        for (const [track, t] of subs) if (t.mid && !t.stopped) subscribe[t.mid] = track;
        const ans = await request({ type: 'offer', sdp: pc.localDescription.sdp, subscribe });
        await pc.setRemoteDescription({ type: 'answer', sdp: ans.sdp });
        state.negotiations++;
      } while (again);
    })().catch((e) => { state.errors.push('negotiate: ' + (e.message || JSON.stringify(e))); log('negotiate failed', String(e.message || JSON.stringify(e))); })
      .finally(() => { negotiating = null; });
    return negotiating;
  }

  function subscribe(info) {
    if (info.participant === state.peerId || subs.has(info.track)) return;
    const who = state.participants[info.participant];
    if (opt.skipName && who && who.name && who.name.startsWith(opt.skipName)) return;
    state.tracks[info.track] = info;
    const t = pc.addTransceiver(info.kind, { direction: 'recvonly' });
    subs.set(info.track, t);
    negotiate().then(() => {
      if (opt.pin && info.kind === 'video' && info.rids && info.rids.length > 1)
        request({ type: 'layer', track: info.track, pin: opt.pin }).catch(() => {});
    });
  }

  function unsubscribe(track) {
    const t = subs.get(track);
    delete state.tracks[track];
    if (!t) return;
    subs.delete(track);
    const el = document.getElementById('v-' + track);
    if (el) el.remove();
    try { t.stop(); } catch (e) { /* already stopped */ }
    negotiate();
  }

  function trackOfTransceiver(tr) {
    for (const [track, t] of subs) if (t === tr) return track;
    return null;
  }

  async function applyLayers(m) {
    state.layers[m.mid] = m.active;
    const tr = pc.getTransceivers().find((t) => t.mid === m.mid);
    if (!tr) return;
    const p = tr.sender.getParameters();
    if (!p.encodings) return;
    for (const e of p.encodings) if (e.rid && e.rid in m.active) e.active = !!m.active[e.rid];
    try { await tr.sender.setParameters(p); } catch (e) { log('setParameters', String(e)); }
  }

  async function takeFloor(granted) {
    state.floor = granted;
    if (granted && !floorTx) {
      const s = await navigator.mediaDevices.getUserMedia({ audio: true });
      micTrack = s.getAudioTracks()[0];
      floorTx = pc.addTransceiver(micTrack, { direction: 'sendonly', streams: [s] });
      negotiate();
    } else if (!granted && floorTx) {
      floorTx.stop();
      floorTx = null;
      if (micTrack) micTrack.stop();
      negotiate();
    }
  }

  // Screen share (a mentor, at any time): a sendonly m-line of its own, so
  // mentees get another track and a recording composes it with the camera
  // (docs/recording.md). Stopping it stops the m-line; the server removes
  // the track. stream: a MediaStream to share instead of asking the user.
  async function shareScreen(stream) {
    if (screenTx || opt.role !== 'mentor') return false;
    const s = stream || (await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }));
    const t = s.getVideoTracks()[0];
    if (!t) return false;
    try { t.contentHint = 'detail'; } catch (e) { /* older browsers */ }
    t.onended = () => { stopScreen(); };
    screenTx = pc.addTransceiver(t, { direction: 'sendonly', streams: [s] });
    setScreen(true);
    await negotiate();
    return true;
  }

  async function stopScreen() {
    if (!screenTx) return false;
    const t = screenTx.sender.track;
    screenTx.stop();
    screenTx = null;
    if (t) { t.onended = null; t.stop(); }
    setScreen(false);
    await negotiate();
    return true;
  }

  function setScreen(on) {
    state.screen = on;
    if ($('share')) $('share').textContent = on ? 'Stop sharing' : 'Share screen';
  }

  // A mute of one of our tracks (by us or by the mentor): the server stops
  // forwarding it; stop sending it too.
  function onMuted(m) {
    state.muted[m.track] = { muted: m.muted, by: m.by };
    if (m.participant !== state.peerId) return;
    const mid = m.track.split(':')[1];
    const tr = pc.getTransceivers().find((t) => t.mid === mid);
    if (tr && tr.sender.track) tr.sender.track.enabled = !m.muted;
  }

  function onMessage(ev) {
    const m = JSON.parse(ev.data);
    if (m.id && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.type === 'error') p.reject(m); else p.resolve(m);
      if (m.type === 'error') state.errors.push(m.code + ': ' + m.message);
      return;
    }
    if (m.type !== 'candidate') state.events.push(m.type);
    switch (m.type) {
      case 'candidate': pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex }).catch(() => {}); break;
      case 'end-of-candidates': break;
      case 'participant-joined':
        if (m.participant.id === state.peerId) break;
        if (state.roster === 'full' && !state.participants[m.participant.id]) setCount(state.count + 1);
        state.participants[m.participant.id] = m.participant;
        break;
      case 'participant-left': if (state.participants[m.participant] && state.roster === 'full') setCount(state.count - 1); delete state.participants[m.participant]; break;
      case 'roster': setRoster(m); break;
      case 'participant-count': setCount(m.count); break;
      case 'track-added': subscribe(m); break;
      case 'track-removed': unsubscribe(m.track); break;
      case 'layers': applyLayers(m); break;
      case 'floor': if (m.participant === state.peerId) takeFloor(m.granted); break;
      case 'track-muted': onMuted(m); break;
      case 'active-speaker': state.activeSpeaker = m.participant; if ($('speaker')) $('speaker').textContent = 'speaking: #' + m.participant; break;
      case 'recording':
        state.recording = m.state === 'on';
        state.recordingNotices.push({ state: m.state, at: Date.now() });
        if ($('recording')) $('recording').textContent = state.recording ? '● recording' : '';
        break;
      case 'closed': setPhase('closed'); break;
      case 'error': state.errors.push(m.code + ': ' + m.message); log('error', m); break;
      default: break;
    }
  }

  function setCount(n) {
    state.count = n;
    if ($('count')) $('count').textContent = n + (n === 1 ? ' participant' : ' participants');
  }
  // A roster replaces what we knew (a room growing large or small again).
  function setRoster(m) {
    state.roster = m.roster;
    state.participants = {};
    for (const p of m.participants) state.participants[p.id] = p;
    setCount(m.count);
  }

  function makeCanvasScreen() {
    const c = document.createElement('canvas');
    c.width = 1280; c.height = 720;
    const g = c.getContext('2d');
    let n = 0;
    setInterval(() => {
      g.fillStyle = `hsl(${(n * 3) % 360},60%,40%)`; g.fillRect(0, 0, c.width, c.height);
      g.fillStyle = '#fff'; g.font = '64px sans-serif'; g.fillText('slide ' + (n++), 80, 200);
    }, 66);
    return c.captureStream(15);
  }

  async function start() {
    if (opt.role === 'mentor') {
      camStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
      const v = document.createElement('video');
      v.autoplay = true; v.muted = true; v.srcObject = camStream;
      $('local').appendChild(v);
    }
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws.onmessage = onMessage;
    ws.onclose = () => { if (state.phase !== 'closed') setPhase('closed'); };
    await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
    const joined = await request({ type: 'join', room: opt.room, mode: 'room', role: opt.role, name: opt.name,
      ...(opt.token ? { token: opt.token } : {}) });
    state.peerId = joined.peer_id;
    state.activeSpeaker = joined.active_speaker;
    state.recording = !!joined.recording;
    if (state.recording) state.recordingNotices.push({ state: 'on', at: Date.now(), joined: true });
    if ($('me')) $('me').textContent = `${opt.role} #${joined.peer_id}`;
    setRoster(joined);
    setPhase('joined');
    pc = new RTCPeerConnection({ iceServers: joined.ice_servers, bundlePolicy: 'max-bundle' });
    window.roomPc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate) send({ type: 'candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
      else send({ type: 'end-of-candidates' });
    };
    pc.oniceconnectionstatechange = () => { state.pc.ice = pc.iceConnectionState; };
    pc.onconnectionstatechange = () => {
      state.pc.connection = pc.connectionState;
      if (pc.connectionState === 'connected') setPhase('connected');
      if (pc.connectionState === 'failed') setPhase('failed');
    };
    pc.ontrack = (e) => {
      const track = trackOfTransceiver(e.transceiver) || e.track.id;
      const el = document.createElement(e.track.kind === 'video' ? 'video' : 'audio');
      el.id = 'v-' + track; el.autoplay = true; el.muted = true; el.playsInline = true;
      el.srcObject = new MediaStream([e.track]);
      $('remote').appendChild(el);
    };
    if (camStream) {
      const vt = camStream.getVideoTracks()[0];
      const encs = opt.simulcast
        ? [{ rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150000 }, { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500000 }, { rid: 'h', maxBitrate: 1500000 }]
        : undefined;
      pc.addTransceiver(vt, { direction: 'sendonly', streams: [camStream], sendEncodings: encs });
      pc.addTransceiver(camStream.getAudioTracks()[0], { direction: 'sendonly', streams: [camStream] });
      if (opt.screen) {
        const s = makeCanvasScreen();
        screenTx = pc.addTransceiver(s.getVideoTracks()[0], { direction: 'sendonly', streams: [s] });
        setScreen(true);
      }
      if ($('share')) {
        $('share').hidden = false;
        $('share').onclick = () => (state.screen ? stopScreen() : shareScreen()).catch((e) => log('screen share', String(e)));
      }
    } else {
      // A data-less first offer still needs an m-line: one recvonly audio
      // that is bound once a track appears.
    }
    for (const t of joined.tracks) subscribe(t);
    if (camStream || joined.tracks.length === 0) {
      if (!camStream) pc.createDataChannel('room');
      await negotiate();
    }
  }

  // ---- test hooks -----------------------------------------------------------
  async function stats() {
    const r = await pc.getStats();
    const out = { inbound: {}, outbound: [], pair: null };
    const byMid = {};
    for (const [track, t] of subs) if (t.mid) byMid[t.mid] = track;
    r.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        const track = byMid[s.mid] || s.mid;
        out.inbound[track] = { kind: s.kind, mid: s.mid, packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded,
          frameHeight: s.frameHeight, frameWidth: s.frameWidth, keyFramesDecoded: s.keyFramesDecoded, packetsLost: s.packetsLost,
          bytesReceived: s.bytesReceived, codecId: s.codecId, nackCount: s.nackCount,
          retransmittedPacketsReceived: s.retransmittedPacketsReceived };
      } else if (s.type === 'outbound-rtp') {
        out.outbound.push({ kind: s.kind, mid: s.mid, rid: s.rid, framesEncoded: s.framesEncoded, frameHeight: s.frameHeight,
          packetsSent: s.packetsSent, active: s.active });
      } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        out.pair = { state: s.state };
      }
    });
    return out;
  }

  window.room = {
    state,
    stats,
    tracks: () => Object.values(state.tracks),
    setLayer: (track, pref) => request({ type: 'layer', track, ...pref }),
    floor: (participant, grant) => request({ type: 'floor', participant, grant }),
    mute: (track, muted) => request({ type: 'mute', track, muted }),
    restartIce: () => negotiate(true),
    serverStats: () => request({ type: 'stats' }),
    leave: () => request({ type: 'leave' }),
    request: (msg) => request(msg), // any signaling message (tests)
    shareScreen: () => shareScreen(),
    shareCanvas: () => shareScreen(makeCanvasScreen()), // tests: a canvas instead of a screen
    stopScreen: () => stopScreen(),
  };

  start().catch((e) => { state.errors.push('start: ' + (e.message || JSON.stringify(e))); setPhase('failed'); log('start failed', String(e.message || JSON.stringify(e))); });
})();
