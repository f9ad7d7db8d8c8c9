// End-to-end test of `attune serve` from the outside, as users reach it:
//   1. the npm `openai` client (a spoken turn in, text and audio out; whole and streamed),
//   2. the web page in headless Debian Chromium driven by playwright-core: a turn spoken through the
//      page's microphone path (Chromium's fake capture device plays a WAV made by `attune speak`),
//      then one uploaded as a file; the reply text, its audio and the trajectory points must appear.
// The server runs with --api-key: 401 without the key (OpenAI's error format), /health open; the
// page gets the key from its address (#key=...).
// A screenshot is kept in $ATTUNE_ARTIFACTS (default build/artifacts/web-page.png).
// Usage: node tests/web/e2e.mjs  (env: ATTUNE_BIN, ATTUNE_ARTIFACTS, CHROMIUM). Exit 77 = skipped.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.ATTUNE_BIN ?? path.join(root, 'build/src/cli/attune');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const artifacts = process.env.ATTUNE_ARTIFACTS ?? path.join(root, 'build/artifacts');

function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(77);
}
if (!fs.existsSync(path.join(here, 'node_modules/playwright-core')) || !fs.existsSync(path.join(here, 'node_modules/openai')))
  skip(`npm packages missing: run \`npm ci --prefix ${here}\` (scripts/test.sh does)`);
if (!fs.existsSync(chromium)) skip(`${chromium} missing: install Debian's chromium (scripts/install-deps.sh does)`);
if (!fs.existsSync(bin)) skip(`${bin} missing: build attune first`);

const { chromium: playwright } = await import('playwright-core');
const { default: OpenAI } = await import('openai');

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attune-web-'));
const turnWav = path.join(tmp, 'turn.wav');
execFileSync(bin, ['speak', '--emotion', 'sad', '--intensity', '0.8', '--voice', 'en-male-1', '-o', turnWav,
  'I lost my job today and I do not know what to tell my family.'], { stdio: 'ignore' });

// The server on a free port; its first line says which.
const apiKey = 'e2e-key-7f3a';
const server = spawn(bin, ['serve', '--port', '0', '--quiet', '--api-key', apiKey], { stdio: ['ignore', 'ignore', 'pipe'] });
let serverLog = '';
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`the server did not start:\n${serverLog}`)), 60000);
  server.stderr.on('data', (d) => {
    serverLog += d;
    const m = serverLog.match(/listening on (http:\/\/[^/\s]+)\//);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${serverLog}`)));
});
console.log(`server at ${base}`);

let browser;
try {
  // ---- 1. the openai client ----
  const intruder = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
  const refused = await intruder.models.list().then(() => null, (e) => e);
  check(refused?.status === 401 && refused?.error?.code === 'invalid_api_key', `wrong key: ${refused?.status} ${refused?.error?.code}`);
  const health = await fetch(`${base}/health`);
  const metricsOpen = await fetch(`${base}/metrics`);
  const metricsKeyed = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${apiKey}` } });
  check(health.status === 200 && metricsOpen.status === 401 && metricsKeyed.status === 200,
    `/health ${health.status} without a key; /metrics ${metricsOpen.status} without, ${metricsKeyed.status} with`);
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'attune-small', `models.list: ${models.data.map((m) => m.id)}`);
  const audioPart = { type: 'input_audio', input_audio: { data: fs.readFileSync(turnWav).toString('base64'), format: 'wav' } };
  const whole = await client.chat.completions.create({
    model: 'attune-small', modalities: ['text', 'audio'], audio: { voice: 'en-female-1', format: 'wav' },
    messages: [{ role: 'user', content: [audioPart] }],
  });
  const message = whole.choices[0].message;
  const wav = Buffer.from(message.audio?.data ?? '', 'base64');
  check(whole.object === 'chat.completion' && typeof message.content === 'string', `completion: "${message.content}"`);
  check(message.content.length === 0 || (wav.subarray(0, 4).toString() === 'RIFF' && wav.length > 1000),
    `reply audio: ${wav.length} bytes of WAV`);
  check(whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0, `usage ${JSON.stringify(whole.usage)}`);
  const x = whole.attune;
  const psum = Object.values(x.emotion.probabilities).reduce((a, b) => a + b, 0);
  check(x.trajectory.length === 1 && Math.abs(psum - 1) < 1e-6, `attune extension: heard ${x.emotion.label}, p sum ${psum.toFixed(6)}`);
  check(typeof x.heard_words === 'string' && x.heard_words.length > 0, `attune extension: words heard "${x.heard_words}"`);

  const stream = await client.chat.completions.create({
    model: 'attune-small', stream: true, modalities: ['text', 'audio'], audio: { voice: 'en-female-1', format: 'wav' },
    messages: [{ role: 'user', content: [audioPart] }],
  });
  let streamed = '', chunks = 0, finish = null;
  for await (const c of stream) {
    const d = c.choices[0]?.delta ?? {};
    if (d.content) streamed += d.content;
    if (d.audio?.data) chunks += 1;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
  }
  check(streamed === message.content, `streamed text equals the whole reply (greedy): "${streamed}"`);
  check(finish === 'stop' || finish === 'length', `stream finished: ${finish}`);
  check(message.content.length === 0 || chunks > 0, `streamed audio chunks: ${chunks}`);

  // ---- 2. the web page in headless Chromium, microphone fed from the WAV ----
  browser = await playwright.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${turnWav}`,
      '--autoplay-policy=no-user-gesture-required'],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  await context.grantPermissions(['microphone'], { origin: base });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/#key=${apiKey}`);
  await page.waitForFunction(() => window.attune && window.attune.model, null, { timeout: 15000 });
  await page.check('#show-thinking');
  await page.click('#record');
  await page.waitForSelector('#record.recording', { timeout: 10000 });
  await page.waitForTimeout(4500);  // the WAV is ~4 s; the fake device loops it
  await page.click('#record');
  await page.waitForSelector('#reply-1[data-done="true"]', { timeout: 120000 });
  const r1 = await page.evaluate(() => {
    const el = document.querySelector('#reply-1');
    return { text: el.querySelector('.text').textContent, chunks: Number(el.dataset.audioChunks),
      thinking: el.querySelector('.thinking span').textContent, points: document.querySelectorAll('.trajectory-point').length,
      errors: window.attune.errors, session: window.attune.sessionId, heard: document.querySelector('.turn.user .heard').textContent,
      words: document.querySelector('.turn.user .words').textContent };
  });
  check(r1.errors.length === 0, `page errors: ${JSON.stringify(r1.errors)}`);
  check(r1.text.length > 0, `microphone turn: reply "${r1.text}"`);
  check(r1.chunks > 0, `microphone turn: ${r1.chunks} audio chunk(s) played`);
  check(r1.thinking.length > 0, `thinking shown (${r1.thinking.length} chars)`);
  // The last event repeats the whole thinking; it must replace the streamed pieces, not follow them.
  const half = r1.thinking.length / 2;
  check(!(Number.isInteger(half) && r1.thinking.slice(0, half) === r1.thinking.slice(half)), 'thinking shown once, not twice');
  check(r1.points === 1 && r1.heard !== '…', `trajectory: ${r1.points} point, heard "${r1.heard}"`);
  check(/^sess-/.test(r1.session ?? ''), `server-side session ${r1.session}`);
  check(/^words heard: \S/.test(r1.words), `the encoder's words shown: "${r1.words}"`);

  // The same audio as an uploaded file: the second turn of the same session.
  await page.setInputFiles('#upload', turnWav);
  await page.waitForSelector('#reply-2[data-done="true"]', { timeout: 120000 });
  const r2 = await page.evaluate(() => ({ text: document.querySelector('#reply-2 .text').textContent,
    points: document.querySelectorAll('.trajectory-point').length, errors: window.attune.errors }));
  check(r2.errors.length === 0 && r2.text.length > 0, `uploaded turn: reply "${r2.text}"`);
  check(r2.points === 2, `trajectory: ${r2.points} points after two turns`);
  check(pageErrors.length === 0, `no script errors (${pageErrors.join('; ')})`);
  fs.mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'web-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  check(fs.statSync(shot).size > 10000, `screenshot ${shot}`);
} catch (e) {
  check(false, `${e.stack ?? e}`);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
