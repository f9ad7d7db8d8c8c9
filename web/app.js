// attune's web page: record a turn (or pick a file, or type), send it to /v1/chat/completions as a
// 16 kHz WAV with stream: true, show the reply as it arrives, play its audio sentence by sentence,
// and draw the heard emotion of every turn. No external resources; the server is the page's origin.
'use strict';

const EMOTIONS = ['happy', 'surprise', 'neutral', 'sad', 'fear', 'disgust', 'anger'];
const COLORS = { happy: '#e0a100', surprise: '#8e44ad', neutral: '#7f8c8d', sad: '#2e6fba', fear: '#16a085',
                 disgust: '#6d8a1e', anger: '#c0392b', '': '#bbb' };
const $ = (id) => document.getElementById(id);

// Visible to tests and to curious users in the console.
const state = window.attune = { sessionId: null, busy: false, turns: [], audioChunks: 0, errors: [] };

// A server started with --api-key wants "Authorization: Bearer KEY" on /v1/*. The key comes from the
// address (#key=...), then this tab's storage, then the user (asked once, on the first 401).
const keyFromHash = new URLSearchParams(location.hash.slice(1)).get('key');
if (keyFromHash) {
  sessionStorage.setItem('attune-api-key', keyFromHash);
  history.replaceState(null, '', location.pathname);  // keep the key out of the address bar
}
async function api(url, options = {}) {
  const send = () => {
    const key = sessionStorage.getItem('attune-api-key');
    const headers = { ...(options.headers ?? {}), ...(key ? { Authorization: `Bearer ${key}` } : {}) };
    return fetch(url, { ...options, headers });
  };
  let res = await send();
  if (res.status === 401) {
    const key = window.prompt('This server needs an API key:');
    if (key) {
      sessionStorage.setItem('attune-api-key', key);
      res = await send();
    }
  }
  return res;
}

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
  if (isError) state.errors.push(text);
}

// ---- audio: microphone capture, WAV encoding, streamed playback -------------------------------------

let capture = null;  // {context, stream, node, blocks}

async function startRecording() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
  const context = new AudioContext();
  await context.audioWorklet.addModule('/recorder-worklet.js');
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, 'recorder');
  const blocks = [];
  node.port.onmessage = (e) => blocks.push(e.data);
  source.connect(node);
  capture = { context, stream, node, blocks, started: performance.now() };
}

async function stopRecording() {
  const c = capture;
  capture = null;
  c.node.disconnect();
  c.stream.getTracks().forEach((t) => t.stop());
  const rate = c.context.sampleRate;
  await c.context.close();
  const n = c.blocks.reduce((s, b) => s + b.length, 0);
  const samples = new Float32Array(n);
  let at = 0;
  for (const b of c.blocks) { samples.set(b, at); at += b.length; }
  return { samples, rate };
}

// Linear-interpolation resampling to 16 kHz: the model's rate (the server resamples properly anyway;
// this only keeps uploads small).
function to16k(samples, rate) {
  if (rate === 16000) return samples;
  const n = Math.floor(samples.length * 16000 / rate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = i * rate / 16000, j = Math.floor(x), f = x - j;
    out[i] = samples[j] * (1 - f) + (samples[j + 1] ?? samples[j]) * f;
  }
  return out;
}

function wavBytes(samples, rate) {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, 'RIFF'); v.setUint32(4, 36 + samples.length * 2, true); str(8, 'WAVE');
  str(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, 'data'); v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + i * 2, s < 0 ? s * 32768 : s * 32767, true);
  }
  return new Uint8Array(buf);
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text) {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

// Plays WAV chunks back to back as they arrive.
class ChunkPlayer {
  constructor() { this.context = null; this.next = 0; }
  async play(wav) {
    if (!this.context) this.context = new AudioContext();
    if (this.context.state === 'suspended') await this.context.resume();
    const buffer = await this.context.decodeAudioData(wav.buffer.slice(0));
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const at = Math.max(this.context.currentTime + 0.05, this.next);
    source.start(at);
    this.next = at + buffer.duration;
    return buffer.duration;
  }
}
const player = new ChunkPlayer();

// ---- the dialogue ---------------------------------------------------------------------------------

function addBubble(role, html) {
  const li = document.createElement('li');
  li.className = `turn ${role}`;
  li.innerHTML = html;
  $('turns').appendChild(li);
  $('turns').scrollTop = $('turns').scrollHeight;
  return li;
}

function chip(label, intensity) {
  const name = label || 'unclear';
  const strength = intensity ? ` ${Number(intensity).toFixed(2)}` : '';
  return `<span class="chip" style="background:${COLORS[label] ?? '#bbb'}">${name}${strength}</span>`;
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function sendTurn(wav, seconds, label) {
  if (state.busy) return;
  const text = $('text').value.trim();
  if (!wav && !text) { setStatus('Record, pick a file or type something first.', true); return; }
  state.busy = true;
  setBusy(true);
  $('text').value = '';
  const index = state.turns.length;
  const user = addBubble('user', `${wav ? `<span class="muted">spoken (${label}), ${seconds.toFixed(1)} s</span>` : ''}${text ? `<div>${escapeHtml(text)}</div>` : ''}
    <div class="meta">heard: <span class="heard">…</span></div><div class="meta words" hidden></div>`);
  const reply = addBubble('assistant', '<div class="text"></div><details class="thinking" hidden><summary>thinking</summary><span></span></details><div class="meta"></div>');
  reply.id = `reply-${index + 1}`;
  reply.dataset.audioChunks = '0';
  const content = [];
  if (text) content.push({ type: 'text', text });
  if (wav) content.push({ type: 'input_audio', input_audio: { data: toBase64(wav), format: 'wav' } });
  const speak = $('speak').checked;
  const body = {
    model: state.model, stream: true, messages: [{ role: 'user', content }],
    modalities: speak ? ['text', 'audio'] : ['text'], audio: { voice: $('voice').value, format: 'wav' },
    attune: { show_thinking: $('show-thinking').checked, ...(state.sessionId ? { session_id: state.sessionId } : { new_session: true }) },
  };
  setStatus('listening…');
  const started = performance.now();
  try {
    const res = await api('/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) {
      const err = await res.json().catch(() => ({ error: { message: res.statusText } }));
      if (err.error?.code === 'session_not_found') state.sessionId = null;
      throw new Error(err.error?.message ?? `HTTP ${res.status}`);
    }
    await readEvents(res, (event) => {
      if (event.error) throw new Error(event.error.message);
      const delta = event.choices?.[0]?.delta ?? {};
      if (delta.content) {
        reply.querySelector('.text').textContent += delta.content;
        if (!reply.dataset.firstText) reply.dataset.firstText = String(Math.round(performance.now() - started));
        setStatus('answering…');
      }
      if (event.attune?.thinking) {
        const t = reply.querySelector('.thinking');
        t.hidden = false;
        // The last event carries the whole thinking again: it replaces the streamed pieces.
        const span = t.querySelector('span');
        span.textContent = event.choices?.[0]?.finish_reason ? event.attune.thinking : span.textContent + event.attune.thinking;
      }
      if (delta.audio?.data) {
        reply.dataset.audioChunks = String(Number(reply.dataset.audioChunks) + 1);
        state.audioChunks += 1;
        player.play(fromBase64(delta.audio.data)).catch((e) => setStatus(`cannot play the reply: ${e.message}`, true));
      }
      if (event.choices?.[0]?.finish_reason && event.attune) finishTurn(event.attune, user, reply);
    });
    setStatus('');
  } catch (e) {
    reply.querySelector('.meta').textContent = `error: ${e.message}`;
    setStatus(e.message, true);
  } finally {
    reply.dataset.done = 'true';
    state.busy = false;
    setBusy(false);
  }
}

// Server-sent events from a fetch body: "data: {...}" blocks separated by blank lines.
async function readEvents(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = pending.indexOf('\n\n')) >= 0) {
      const block = pending.slice(0, cut);
      pending = pending.slice(cut + 2);
      for (const line of block.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

function finishTurn(x, user, reply) {
  state.sessionId = x.session_id ?? state.sessionId;
  user.querySelector('.heard').innerHTML = chip(x.emotion.label, x.emotion.intensity);
  // What the encoder's CTC head made of the spoken words: a window on how well the model hears.
  if (x.heard_words) {
    const words = user.querySelector('.words');
    words.textContent = `words heard: ${x.heard_words}`;
    words.hidden = false;
  }
  const t = x.timings;
  const voice = x.style ? `voice: ${x.style.emotion} ${x.style.intensity.toFixed(2)}` : '';
  reply.querySelector('.meta').textContent =
    `${voice} · first audio ${(t.first_audio * 1000).toFixed(0)} ms · ${t.tokens_per_second.toFixed(0)} tok/s`;
  for (const w of x.warnings ?? []) {
    const p = document.createElement('div');
    p.className = 'warning';
    p.textContent = `warning: ${w}`;
    user.appendChild(p);
  }
  state.turns.push({ label: x.emotion.label, intensity: x.emotion.intensity, reply: reply.querySelector('.text').textContent });
  $('trajectory-text').textContent = x.trajectory_text || '';
  drawTrajectory();
}

// The heard emotion per turn: one row per emotion, one column per turn.
function drawTrajectory() {
  const svg = $('trajectory');
  const W = 320, H = 220, left = 62, top = 12, rowH = (H - top - 24) / EMOTIONS.length;
  const n = Math.max(state.turns.length, 4);
  const colW = (W - left - 12) / Math.max(n - 1, 1);
  const x = (i) => left + i * colW, y = (label) => top + (EMOTIONS.indexOf(label) + 0.5) * rowH;
  let s = '';
  EMOTIONS.forEach((e) => {
    s += `<line x1="${left}" x2="${W - 8}" y1="${y(e)}" y2="${y(e)}" stroke="#eee"/>`;
    s += `<text x="${left - 6}" y="${y(e) + 3}" text-anchor="end">${e}</text>`;
  });
  const known = state.turns.map((t, i) => ({ ...t, i })).filter((t) => EMOTIONS.includes(t.label));
  if (known.length > 1) s += `<polyline fill="none" stroke="#aaa" points="${known.map((t) => `${x(t.i)},${y(t.label)}`).join(' ')}"/>`;
  for (const t of known) {
    const r = 4 + 6 * (t.intensity || 0.3);
    s += `<circle class="trajectory-point" data-turn="${t.i + 1}" data-label="${t.label}" cx="${x(t.i)}" cy="${y(t.label)}" r="${r.toFixed(1)}" fill="${COLORS[t.label]}"><title>turn ${t.i + 1}: ${t.label} ${(t.intensity || 0).toFixed(2)}</title></circle>`;
  }
  state.turns.forEach((t, i) => { s += `<text x="${x(i)}" y="${H - 6}" text-anchor="middle">${i + 1}</text>`; });
  svg.innerHTML = s;
}

function setBusy(busy) {
  for (const id of ['record', 'send', 'upload']) $(id).disabled = busy;
}

// ---- controls -------------------------------------------------------------------------------------

$('record').addEventListener('click', async () => {
  try {
    if (!capture) {
      await startRecording();
      $('record').classList.add('recording');
      $('record').textContent = '■ Stop and send';
      setStatus('recording…');
      return;
    }
    $('record').classList.remove('recording');
    $('record').textContent = '● Record';
    const { samples, rate } = await stopRecording();
    const s16 = to16k(samples, rate);
    await sendTurn(wavBytes(s16, 16000), s16.length / 16000, 'microphone');
  } catch (e) {
    setStatus(`microphone: ${e.message}`, true);
  }
});

$('upload').addEventListener('change', async () => {
  const file = $('upload').files[0];
  $('upload').value = '';
  if (!file) return;
  try {
    // Decoded here, so any format the browser plays works; sent as 16 kHz mono WAV.
    const context = new AudioContext();
    const decoded = await context.decodeAudioData(await file.arrayBuffer());
    await context.close();
    const mono = new Float32Array(decoded.length);
    for (let c = 0; c < decoded.numberOfChannels; c++) {
      const ch = decoded.getChannelData(c);
      for (let i = 0; i < mono.length; i++) mono[i] += ch[i] / decoded.numberOfChannels;
    }
    const s16 = to16k(mono, decoded.sampleRate);
    await sendTurn(wavBytes(s16, 16000), s16.length / 16000, escapeHtml(file.name));
  } catch (e) {
    setStatus(`${file.name}: cannot read this audio (${e.message})`, true);
  }
});

$('composer').addEventListener('submit', (e) => { e.preventDefault(); sendTurn(null, 0, ''); });

$('restart').addEventListener('click', async () => {
  if (state.sessionId) await api(`/v1/sessions/${state.sessionId}`, { method: 'DELETE' }).catch(() => {});
  state.sessionId = null;
  state.turns = [];
  $('turns').innerHTML = '';
  $('trajectory-text').textContent = '';
  drawTrajectory();
});

(async () => {
  drawTrajectory();
  try {
    const models = await (await api('/v1/models')).json();
    const m = models.data[0];
    state.model = m.id;
    $('model').textContent = m.attune?.description ?? m.id;
    const voices = m.attune?.voices;
    if (voices?.length) {
      // The server's default voice (chosen by `attune eval talkers`), else the first.
      const chosen = m.attune?.default_voice;
      $('voice').innerHTML = voices.map((v) => `<option value="${escapeHtml(v)}">${escapeHtml(v)}</option>`).join('');
      $('voice').value = voices.includes(chosen) ? chosen : voices[0];
    }
  } catch (e) {
    setStatus(`cannot reach the server: ${e.message}`, true);
  }
})();
