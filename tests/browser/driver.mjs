// driver.mjs opens pages in headless Debian Chromium through playwright-core
// and reports what they do, one JSON object per line on stdout, for the Go
// package in this directory (browser.go), which starts it as
//
//   node driver.mjs [--host NAME]... [--arg FLAG]... [--grant PERMISSION]...
//                   [--timeout MS] [--executable PATH] -- URL...
//
// --host NAME    resolve NAME to 127.0.0.1 in the browser (repeatable)
// --arg FLAG     an extra Chromium command-line flag (repeatable)
// --grant PERM   grant a permission such as local-network-access to every
//                origin (repeatable)
// --timeout MS   bound on launching the browser and on each navigation
// --eval EXPR    after each page loads, evaluate the JavaScript expression
//                EXPR in it and report the result (repeatable, in order)
// --screenshot   after each page loads (and the --eval reports), report a
//                full-page PNG screenshot
// --requests     report every request a page makes, as it starts
//
// Chromium keeps only the last --disable-features (and --enable-features)
// flag, and playwright-core passes its own, so an --arg of either replaces
// playwright's list (which keeps the browser off the network at start);
// prefer --grant local-network-access to lifting Local Network Access checks.
//
// Lines on stdout, each with "t" (ms since the epoch; for console messages
// the page's own timestamp) and, for page events, "page" (the page's URL):
//   {"kind":"launched","text":"<browser product/version>"}
//   {"kind":"console","type":"log","text":...}        every console message
//   {"kind":"pageerror","text":...,"error":<stack>}    uncaught exceptions
//   {"kind":"requestfailed","url":...,"error":...}
//   {"kind":"request","type":<method>,"url":...}       with --requests
//   {"kind":"websocket","type":"created|close|error","url":...,"error":...}
//   {"kind":"loaded"}                                  the page's load event
//   {"kind":"eval","text":<JSON of the result>,"error":...}   each --eval
//   {"kind":"screenshot","data":<base64 PNG>}          with --screenshot
//   {"kind":"crash"} / {"kind":"closed"}
//   {"kind":"error","error":...}   the driver failed; it then exits non-zero
//
// Each run uses a new temporary profile, removed at exit. The driver runs
// until its stdin closes or it gets SIGTERM/SIGINT, then closes the browser
// and exits within 5 s. Launch and navigation are bounded by --timeout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opts, positionals: urls } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', multiple: true, default: [] },
    arg: { type: 'string', multiple: true, default: [] },
    grant: { type: 'string', multiple: true, default: [] },
    timeout: { type: 'string', default: '30000' },
    eval: { type: 'string', multiple: true, default: [] },
    screenshot: { type: 'boolean', default: false },
    requests: { type: 'boolean', default: false },
    executable: { type: 'string', default: process.env.CARDBRIDGE_CHROMIUM || '/usr/bin/chromium' },
  },
});
const timeout = Number(opts.timeout);

// emit writes one event line; stdout is a pipe, which node writes synchronously on Linux.
function emit(ev) {
  process.stdout.write(JSON.stringify({ t: Date.now(), ...ev }) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cardbridge-chromium-'));
process.on('exit', () => fs.rmSync(profile, { recursive: true, force: true, maxRetries: 3 }));

let context = null; // the browser's (persistent) context once launched
let launching = null; // the launch under way, until context is set
let shuttingDown = false;

// shutdown closes the browser, waiting for a launch under way, and exits
// with code; each step is bounded so that the driver exits within 5 s.
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  const hard = setTimeout(() => {
    process.stderr.write('driver: closing the browser timed out, exiting\n');
    process.exit(code || 1);
  }, 4800);
  if (!context && launching) {
    context = await Promise.race([launching.catch(() => null), sleep(1500).then(() => null)]);
  }
  if (context) {
    await Promise.race([
      context.close().catch((e) => process.stderr.write(`driver: close: ${e}\n`)),
      sleep(3000),
    ]);
  }
  clearTimeout(hard);
  process.exit(code);
}

// fail reports the driver's own failure, unless it is already shutting down
// (a navigation cut short by shutdown is no failure), and exits non-zero.
function fail(what, err) {
  if (shuttingDown) return;
  emit({ kind: 'error', error: `${what}: ${err && err.message ? err.message : err}` });
  shutdown(1);
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
process.stdin.on('end', () => shutdown(0));
process.stdin.on('close', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();
process.stdout.on('error', () => shutdown(0));
process.on('unhandledRejection', (e) => fail('unhandled rejection', e));

if (urls.length === 0) {
  emit({ kind: 'error', error: 'usage: node driver.mjs [--host NAME]... -- URL...' });
  process.exit(2);
}

const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
];
if (opts.host.length > 0) {
  args.push('--host-resolver-rules=' + opts.host.map((h) => `MAP ${h} 127.0.0.1`).join(', '));
}
args.push(...opts.arg);
if (opts.arg.some((a) => /^--(disable|enable)-features=/.test(a))) {
  process.stderr.write("driver: warning: an --arg of --disable-features/--enable-features replaces playwright-core's own list\n");
}
process.stderr.write(`driver: launching ${opts.executable} ${args.join(' ')} (profile ${profile})\n`);

try {
  launching = chromium.launchPersistentContext(profile, {
    executablePath: opts.executable,
    headless: true,
    args,
    timeout,
    ignoreHTTPSErrors: true,
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
  });
  const c = await launching;
  if (!shuttingDown) context = c;
} catch (e) {
  fail('launch', e);
}

if (context && !shuttingDown) {
  context.on('close', () => fail('browser', 'closed unexpectedly'));
  try {
    if (opts.grant.length > 0) await context.grantPermissions(opts.grant);
    const blank = context.pages()[0];
    const cdp = await context.newCDPSession(blank || (await context.newPage()));
    emit({ kind: 'launched', text: (await cdp.send('Browser.getVersion')).product });
    await cdp.detach();
    for (const [i, url] of urls.entries()) {
      const page = i === 0 && blank ? blank : await context.newPage();
      watch(page);
      await page.goto(url, { timeout, waitUntil: 'load' });
      await inspect(page);
    }
  } catch (e) {
    fail('open', e);
  }
}

// inspect reports what --eval and --screenshot ask of a loaded page.
async function inspect(page) {
  for (const expr of opts.eval) {
    try {
      const v = await page.evaluate(expr);
      emit({ kind: 'eval', text: JSON.stringify(v === undefined ? null : v), page: page.url() });
    } catch (e) {
      emit({ kind: 'eval', error: String(e && e.message ? e.message : e), page: page.url() });
    }
  }
  if (opts.screenshot) {
    const png = await page.screenshot({ fullPage: true, timeout });
    emit({ kind: 'screenshot', data: png.toString('base64'), page: page.url() });
  }
}

// watch reports the events of one page.
function watch(page) {
  const at = () => page.url();
  page.on('console', (msg) => {
    let t = Date.now();
    try {
      t = msg.timestamp();
    } catch {
      // older playwright-core: the driver's receive time stands in.
    }
    emit({ kind: 'console', type: msg.type(), text: msg.text(), page: at(), t });
  });
  page.on('pageerror', (err) => emit({ kind: 'pageerror', text: err.message, error: err.stack || String(err), page: at() }));
  if (opts.requests) {
    page.on('request', (req) => emit({ kind: 'request', type: req.method(), url: req.url(), page: at() }));
  }
  page.on('requestfailed', (req) => emit({
    kind: 'requestfailed', url: req.url(), error: req.failure() ? req.failure().errorText : '', page: at(),
  }));
  page.on('websocket', (ws) => {
    emit({ kind: 'websocket', type: 'created', url: ws.url(), page: at() });
    ws.on('socketerror', (err) => emit({ kind: 'websocket', type: 'error', url: ws.url(), error: String(err), page: at() }));
    ws.on('close', () => emit({ kind: 'websocket', type: 'close', url: ws.url(), page: at() }));
  });
  page.on('load', () => emit({ kind: 'loaded', page: at() }));
  page.on('crash', () => emit({ kind: 'crash', page: at() }));
  page.on('close', () => emit({ kind: 'closed', page: at() }));
}
