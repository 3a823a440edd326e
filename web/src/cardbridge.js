/*
 * cardbridge.js: the browser client for the cardbridge agent.
 *
 * This is the one source of the client. "go run ./tools/jsclient" wraps it
 * into the UMD script (web/cardbridge.js, and httpapi/cardbridge.js, which
 * the agent serves at GET /cardbridge.js) and the ES module
 * (web/cardbridge.mjs); web/cardbridge.d.ts declares its types. The file is
 * the body of a function: it ends by returning the client's exports.
 *
 * Serve it with your page (copy it next to your page, or install
 * @cardbridge/client from npm); it needs no other library. On a shared host
 * do not load it from localhost: whoever holds a local port could serve
 * script into your page.
 *
 *   const cb = await CardBridge.connect();       // finds this user's agent
 *   const card = await cb.card();                // {present, uuid, subject, ...}
 *   const token = await cb.authenticate(nonce);  // Web eID token; {getSigningCertificate: true} for web-eid:1.1
 *   const {certificate, supportedSignatureAlgorithms} = await cb.getSigningCertificate();
 *   const {signature, signatureAlgorithm} = await cb.sign(certificate, hashBase64, "SHA-256");
 *   const sub = cb.subscribe({
 *     onEvent(ev) { ... },                       // snapshot, card-inserted, card-updated, card-removed, ...
 *     onStatus(s) { ... },                       // "connecting", "open", "closed"
 *     onError(e) { ... },                        // a CardBridgeError that ended the subscription
 *   });
 *   sub.close();
 *
 * Every failure is a CardBridgeError with a code from ERROR_CODES (and
 * status when the agent answered over HTTP): the agent's own codes, and
 * NOT_RUNNING, LOCAL_NETWORK_DENIED and TIMEOUT, which the browser tells.
 *
 * Discovery (connect) asks the port service on its well-known ports, one
 * after another, and stops at the first answer, which is final (multi-user
 * hosts give each user a port of their own). Only when no port service
 * answers does it try the agent's standalone port. What worked is
 * remembered for the tab (sessionStorage "cardbridge.port") and tried first
 * next time, so that a page load on a standalone install asks one port.
 * The API needs no cookies.
 */
"use strict";

const PORT_SERVICE_PORTS = [43487, 44213, 45031, 46478, 48853];
const STANDALONE_PORT = 43485;
const HOST = "127.0.0.1";
const STORAGE_KEY = "cardbridge.port";

// ERROR_CODES are the codes of CardBridgeError: the agent's (api/errors.go),
// then those the browser tells.
const ERROR_CODES = Object.freeze([
  "PCSC_UNAVAILABLE", "NO_READER", "NO_CARD", "UNSUPPORTED_CARD",
  "ORIGIN_NOT_ALLOWED", "HOST_NOT_ALLOWED", "WRONG_USER", "BAD_REQUEST",
  "PIN_CANCELLED", "WRONG_PIN", "PIN_BLOCKED", "BUSY", "WRONG_CARD", "INTERNAL",
  "NOT_RUNNING", "LOCAL_NETWORK_DENIED", "TIMEOUT",
]);

// PIN_WAIT bounds calls that ask the user for the PIN.
const PIN_WAIT = 300000;

// STAGGER is how long discovery waits for one port service port before it
// also asks the next; a refused port is passed over at once.
const STAGGER = 300;

// CardBridgeError is every error the client rejects with.
class CardBridgeError extends Error {
  constructor(code, message, status, cause) {
    super(message || code);
    this.name = "CardBridgeError";
    this.code = code;
    if (status !== undefined) { this.status = status; }
    if (cause !== undefined) { this.cause = cause; }
  }
}

// LOCAL_NETWORK_PERMISSIONS are the Permissions API names for reaching
// loopback, newest first. A browser that knows none throws TypeError.
const LOCAL_NETWORK_PERMISSIONS = ["loopback-network", "local-network-access"];

// localNetworkPermission answers the page's Local Network Access state for
// loopback: "granted", "denied", "prompt", or "unknown" where the browser
// has no such permission.
async function localNetworkPermission() {
  const perms = typeof navigator !== "undefined" ? navigator.permissions : undefined;
  if (!perms || typeof perms.query !== "function") { return "unknown"; }
  for (const name of LOCAL_NETWORK_PERMISSIONS) {
    try {
      return (await perms.query({ name: name })).state;
    } catch (e) {
      // Not a permission this browser has: try the next name.
    }
  }
  return "unknown";
}

function localNetworkDenied(cause) {
  return new CardBridgeError("LOCAL_NETWORK_DENIED",
    "the browser does not let this site reach cardbridge on this computer (Local Network Access is blocked for this site: " +
    "allow it in the site's settings, or ask your administrator to add the site to LocalNetworkAccessAllowedForUrls)", undefined, cause);
}

function timeoutSignal(ms) {
  if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
    return AbortSignal.timeout(ms);
  }
  const c = new AbortController();
  setTimeout(function () { c.abort(); }, ms);
  return c.signal;
}

function isTimeout(e) {
  return !!e && (e.name === "TimeoutError" || e.name === "AbortError");
}

// request fetches url and answers its JSON. Failures: TIMEOUT, the
// agent's error code (with status), or, when no answer could be read,
// NOT_RUNNING with the browser's error as cause (see refine).
async function request(url, init, ms) {
  init.mode = "cors";
  init.credentials = "omit";
  init.cache = "no-store";
  init.signal = timeoutSignal(ms);
  let resp, body = null;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (isTimeout(e)) { throw new CardBridgeError("TIMEOUT", "no answer from " + url + " within " + ms + " ms", undefined, e); }
    throw new CardBridgeError("NOT_RUNNING", "nothing answered at " + url, undefined, e);
  }
  try {
    body = await resp.json();
  } catch (e) {
    if (isTimeout(e)) { throw new CardBridgeError("TIMEOUT", "no whole answer from " + url + " within " + ms + " ms", undefined, e); }
  }
  if (!resp.ok) {
    const err = body && body.error;
    if (err && typeof err.code === "string") {
      throw new CardBridgeError(err.code, err.message || err.code, resp.status);
    }
    throw new CardBridgeError("INTERNAL", url + " answered HTTP " + resp.status + " without an error code", resp.status);
  }
  if (body === null || typeof body !== "object") {
    throw new CardBridgeError("INTERNAL", url + " did not answer JSON", resp.status);
  }
  return body;
}

// refine turns a NOT_RUNNING from request into LOCAL_NETWORK_DENIED when the
// browser refused the page access to loopback.
async function refine(e) {
  if (e instanceof CardBridgeError && e.code === "NOT_RUNNING" && await localNetworkPermission() === "denied") {
    return localNetworkDenied(e.cause);
  }
  return e;
}

// answers reports whether anything answers HTTP at url, without reading
// the answer: a no-cors request resolves with an opaque response, which
// holds nothing the page can read, even from a server that sends this
// origin no CORS headers.
async function answers(url, ms) {
  try {
    await fetch(url, { mode: "no-cors", credentials: "omit", cache: "no-store", signal: timeoutSignal(ms) });
    return true;
  } catch (e) {
    return false;
  }
}

// The last discovery that worked, for this tab: {"standalone": PORT} or
// {"portService": PORT}. Storage may be missing or refused; that only
// costs the shortcut.
function recall() {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return v && typeof v === "object" ? v : null;
  } catch (e) {
    return null;
  }
}

function remember(v) {
  try {
    if (v) { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(v)); } else { sessionStorage.removeItem(STORAGE_KEY); }
  } catch (e) {
    // No storage: nothing to remember with.
  }
}

function Client(port) {
  this.port = port;
  this.base = "http://" + HOST + ":" + port;
}

Client.prototype._get = function (path, ms) {
  return request(this.base + path, { method: "GET" }, ms).catch(function (e) { return refine(e).then(function (r) { throw r; }); });
};

Client.prototype._post = function (path, body, ms) {
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  return request(this.base + path, init, ms).catch(function (e) { return refine(e).then(function (r) { throw r; }); });
};

// versionInfo answers GET /api/versioninfo.
Client.prototype.versionInfo = function () { return this._get("/api/versioninfo", 5000); };
// readers answers {readers: [...]}: every reader and its card.
Client.prototype.readers = function () { return this._get("/api/readers", 5000); };
// card answers the first card, or {present: false}.
Client.prototype.card = function () { return this._get("/api/card", 10000); };

// authenticate answers a Web eID token for the site's nonce: web-eid:1.0,
// or web-eid:1.1 with the signing certificate when opts.getSigningCertificate.
// The user is asked for the PIN, so it waits up to 5 minutes.
Client.prototype.authenticate = function (challenge, opts) {
  const body = { challenge: challenge };
  if (opts && opts.getSigningCertificate) { body.getSigningCertificate = true; }
  return this._post("/api/authenticate", body, PIN_WAIT);
};
// getSigningCertificate answers {certificate, supportedSignatureAlgorithms}.
Client.prototype.getSigningCertificate = function () {
  return this._post("/api/signing-certificate", {}, 10000);
};
// sign answers {signature, signatureAlgorithm} for the Base64 hash the
// site computed with hashFunction ("SHA-256", "SHA-384" or "SHA-512").
Client.prototype.sign = function (certificate, hash, hashFunction) {
  return this._post("/api/sign", { certificate: certificate, hash: hash, hashFunction: hashFunction }, PIN_WAIT);
};

// subscribe follows /api/events, reconnecting with backoff until closed.
// It stops, telling onError, when the agent closes the stream because this
// site left the DomainList (1008: ORIGIN_NOT_ALLOWED) or when the browser
// refuses the page access to loopback (LOCAL_NETWORK_DENIED).
Client.prototype.subscribe = function (handlers) {
  const self = this;
  let ws = null, closed = false, delay = 500, timer = null;
  handlers = handlers || {};
  function status(s, detail) { if (handlers.onStatus) { handlers.onStatus(s, detail); } }
  function fail(e) {
    closed = true;
    if (handlers.onError) { handlers.onError(e); }
  }
  function open() {
    if (closed) { return; }
    status("connecting");
    let opened = false;
    ws = new WebSocket("ws://" + HOST + ":" + self.port + "/api/events");
    ws.onopen = function () { opened = true; delay = 500; status("open"); };
    ws.onmessage = function (m) {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (handlers.onEvent) { handlers.onEvent(ev); }
    };
    ws.onclose = function (e) {
      ws = null;
      status("closed", { code: e.code, reason: e.reason });
      if (closed) { return; }
      if (e.code === 1008) {
        fail(new CardBridgeError("ORIGIN_NOT_ALLOWED", "cardbridge closed the event stream: " + (e.reason || "this site is no longer on its DomainList")));
        return;
      }
      const retry = function () {
        if (closed) { return; }
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
      if (opened) { retry(); return; }
      localNetworkPermission().then(function (state) {
        if (state === "denied") { fail(localNetworkDenied()); } else { retry(); }
      });
    };
  }
  open();
  return {
    close: function () {
      closed = true;
      if (timer) { clearTimeout(timer); }
      if (ws) { ws.close(1000, "done"); }
    }
  };
};

// askPortService asks one port service port for this user's agent port.
// Any answer, the port or a fault, resolves; only no answer rejects.
async function askPortService(servicePort, ms) {
  const body = await request("http://" + HOST + ":" + servicePort + "/PRS/GetPortNumber", { method: "GET" }, ms);
  if (body.portData && body.portData.portNumber) {
    return { servicePort: servicePort, port: body.portData.portNumber };
  }
  const fault = body.faultException;
  return { servicePort: servicePort, fault: fault ? fault.code + " " + fault.message : "no port from the port service" };
}

// firstAnswer asks ports one after another, starting the next when the
// last failed or has not answered within STAGGER ms, and resolves with the
// first answer (asking no more ports), or with null when none answered.
function firstAnswer(ports, ask) {
  return new Promise(function (resolve) {
    let next = 0, pending = 0, done = false, timer = null;
    function launch() {
      if (done) { return; }
      clearTimeout(timer);
      if (next >= ports.length) {
        if (pending === 0) { done = true; resolve(null); }
        return;
      }
      const port = ports[next++];
      pending++;
      timer = setTimeout(launch, STAGGER);
      ask(port).then(function (answer) {
        pending--;
        if (!done) { done = true; clearTimeout(timer); resolve(answer); }
      }, function () {
        pending--;
        launch();
      });
    }
    launch();
  });
}

// agentAt answers a Client for the agent on port once its versioninfo
// answers.
async function agentAt(port, ms) {
  const c = new Client(port);
  await request(c.base + "/api/versioninfo", { method: "GET" }, ms);
  return c;
}

// fromPortService answers the port service's agent, or rejects: an agent
// port that does not answer, or a fault (NOT_RUNNING; no other port is
// then asked).
async function fromPortService(answer, ms) {
  if (!answer.port) {
    throw new CardBridgeError("NOT_RUNNING", "the port service has no cardbridge agent for this user (" + answer.fault + ")");
  }
  try {
    return await agentAt(answer.port, ms);
  } catch (e) {
    if (e.code !== "NOT_RUNNING") { throw e; }
    throw new CardBridgeError("NOT_RUNNING", "the port service names port " + answer.port + " for this user's cardbridge agent, but nothing answers there", undefined, e.cause);
  }
}

// connect finds this user's agent. Options: {portServicePorts,
// standalonePort, timeoutMs, remember}.
async function connect(opts) {
  opts = opts || {};
  const ms = opts.timeoutMs || 2000;
  const servicePorts = opts.portServicePorts || PORT_SERVICE_PORTS;
  const standalone = opts.standalonePort || STANDALONE_PORT;
  const useStorage = opts.remember !== false;

  // Blocked by the browser (an administrator's policy, or the user said
  // no): ask nothing, so nothing turns red in the console.
  if (await localNetworkPermission() === "denied") { throw localNetworkDenied(); }

  // The shortcut: what worked last time in this tab, if it is still one
  // of the ports this page would ask.
  const last = useStorage ? recall() : null;
  if (last && last.standalone === standalone) {
    try { return await agentAt(standalone, ms); } catch (e) { remember(null); }
  } else if (last && servicePorts.indexOf(last.portService) >= 0) {
    let answer = null;
    try { answer = await askPortService(last.portService, ms); } catch (e) { remember(null); }
    if (answer) { return fromPortService(answer, ms).catch(function (e) { return refine(e).then(function (r) { throw r; }); }); }
  }

  // The port service's answer is final: when it says this user has no
  // agent (PR30007), the standalone port, where any local user could
  // listen, is not asked. Only when no port service answers at all is
  // this a single-user machine with a standalone agent.
  let timedOut = null;
  const answer = await firstAnswer(servicePorts, function (p) {
    return askPortService(p, ms).catch(function (e) { if (e.code === "TIMEOUT") { timedOut = e; } throw e; });
  });
  if (answer) {
    const c = await fromPortService(answer, ms).catch(function (e) { return refine(e).then(function (r) { throw r; }); });
    if (useStorage) { remember({ portService: answer.servicePort }); }
    return c;
  }
  let failure;
  try {
    const c = await agentAt(standalone, ms);
    if (useStorage) { remember({ standalone: standalone }); }
    return c;
  } catch (e) {
    failure = e;
  }
  if (failure.code !== "NOT_RUNNING") { throw failure; }
  throw await diagnose(servicePorts, standalone, ms, timedOut || failure);
}

// diagnose says why no port answered the page: the browser refused it
// loopback (LOCAL_NETWORK_DENIED); something answers, but sends this site
// no CORS headers, so the page cannot read it (ORIGIN_NOT_ALLOWED: the
// page learns that a server is there, never what it said); or nothing
// answers (NOT_RUNNING, or TIMEOUT when a port took the connection but did
// not answer).
async function diagnose(servicePorts, standalone, ms, failure) {
  const state = await localNetworkPermission();
  if (state === "denied") { return localNetworkDenied(failure.cause); }
  const ports = servicePorts.concat([standalone]);
  const heard = await Promise.all(ports.map(function (p) {
    const path = p === standalone ? "/api/versioninfo" : "/PRS/GetPortNumber";
    return answers("http://" + HOST + ":" + p + path, ms).then(function (ok) { return ok ? p : 0; });
  }));
  const there = heard.filter(function (p) { return p !== 0; });
  if (there.length > 0) {
    const origin = typeof location !== "undefined" ? location.origin : "this site";
    return new CardBridgeError("ORIGIN_NOT_ALLOWED",
      "a server answers on " + HOST + ":" + there.join(", ") + " but does not let " + origin +
      " read its answers: the site is not on cardbridge's DomainList (or the program on that port is not this user's cardbridge)");
  }
  if (await localNetworkPermission() === "denied") { return localNetworkDenied(failure.cause); }
  if (failure.code === "TIMEOUT") { return failure; }
  let msg = "cardbridge is not installed or not running (nothing answers on " + HOST + ":" + ports.join(", ") + ")";
  if (state === "prompt") {
    msg += ", or the browser's request to let this site reach this computer was dismissed";
  }
  return new CardBridgeError("NOT_RUNNING", msg, undefined, failure.cause);
}

return {
  connect: connect,
  Client: Client,
  CardBridgeError: CardBridgeError,
  ERROR_CODES: ERROR_CODES,
  PORT_SERVICE_PORTS: PORT_SERVICE_PORTS,
  STANDALONE_PORT: STANDALONE_PORT,
};
