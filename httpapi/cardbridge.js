/*
 * cardbridge.js: the browser client for the cardbridge agent.
 *
 * Serve it with your page (copy it next to your page); it needs no build
 * step and no other library. On a shared host do not load it from
 * localhost: whoever holds a local port could serve script into your page.
 *
 *   const cb = await CardBridge.connect();       // finds this user's agent
 *   const card = await cb.card();                // {present, uuid, subject, ...}
 *   const token = await cb.authenticate(nonce);  // Web eID token; {getSigningCertificate: true} for web-eid:1.1
 *   const {certificate, supportedSignatureAlgorithms} = await cb.getSigningCertificate();
 *   const {signature, signatureAlgorithm} = await cb.sign(certificate, hashBase64, "SHA-256");
 *   // errors reject with e.code: NO_CARD, PIN_CANCELLED, WRONG_PIN, PIN_BLOCKED, WRONG_CARD, BAD_REQUEST, ...
 *   const sub = cb.subscribe({
 *     onEvent(ev) { ... },                       // snapshot, card-inserted, card-updated, card-removed, ...
 *     onStatus(s) { ... },                       // "connecting", "open", "closed"
 *   });
 *   sub.close();
 *
 * Discovery asks the port service on its well-known ports (multi-user hosts
 * give each user a port of their own); its answer is final. Only when no
 * port service answers does it try the agent's standalone port. The API
 * needs no cookies.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.CardBridge = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var PORT_SERVICE_PORTS = [43487, 44213, 45031, 46478, 48853];
  var STANDALONE_PORT = 43485;
  var HOST = "127.0.0.1";

  function CardBridgeError(code, message, status) {
    var e = new Error(message || code);
    e.name = "CardBridgeError";
    e.code = code;
    e.status = status;
    return e;
  }

  function timeoutSignal(ms) {
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
      return AbortSignal.timeout(ms);
    }
    var c = new AbortController();
    setTimeout(function () { c.abort(); }, ms);
    return c.signal;
  }

  function getJSON(url, ms) {
    return fetchJSON(url, { method: "GET" }, ms);
  }

  function postJSON(url, body, ms) {
    return fetchJSON(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }, ms);
  }

  function fetchJSON(url, init, ms) {
    init.mode = "cors";
    init.credentials = "omit";
    init.cache = "no-store";
    init.signal = timeoutSignal(ms);
    return fetch(url, init)
      .then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (body) {
          if (!resp.ok) {
            var err = body && body.error ? body.error : { code: "INTERNAL", message: "HTTP " + resp.status };
            throw CardBridgeError(err.code, err.message, resp.status);
          }
          return body;
        });
      });
  }

  // portFromService asks one port service port for this user's agent port.
  // Any answer, the port or a fault, resolves; only no answer rejects.
  function portFromService(port, ms) {
    return getJSON("http://" + HOST + ":" + port + "/PRS/GetPortNumber", ms).then(function (body) {
      if (body && body.portData && body.portData.portNumber) {
        return { port: body.portData.portNumber };
      }
      var fault = body && body.faultException;
      return { fault: fault ? fault.code + " " + fault.message : "no port from the port service" };
    });
  }

  // firstOf resolves with the first promise to succeed, or rejects when all fail.
  function firstOf(promises) {
    return new Promise(function (resolve, reject) {
      var left = promises.length, lastErr;
      if (left === 0) { reject(CardBridgeError("NOT_RUNNING", "nothing to try")); }
      promises.forEach(function (p) {
        p.then(resolve, function (e) { lastErr = e; if (--left === 0) { reject(lastErr); } });
      });
    });
  }

  function Client(port) {
    this.port = port;
    this.base = "http://" + HOST + ":" + port;
  }

  Client.prototype.versionInfo = function () { return getJSON(this.base + "/api/versioninfo", 5000); };
  Client.prototype.readers = function () { return getJSON(this.base + "/api/readers", 5000); };
  Client.prototype.card = function () { return getJSON(this.base + "/api/card", 10000); };

  // Web eID: the user is asked for the PIN, so these wait up to 5 minutes.
  var PIN_WAIT = 300000;
  // authenticate answers a Web eID token for the site's nonce: web-eid:1.0,
  // or web-eid:1.1 with the signing certificate when opts.getSigningCertificate.
  Client.prototype.authenticate = function (challenge, opts) {
    var body = { challenge: challenge };
    if (opts && opts.getSigningCertificate) { body.getSigningCertificate = true; }
    return postJSON(this.base + "/api/authenticate", body, PIN_WAIT);
  };
  // getSigningCertificate answers {certificate, supportedSignatureAlgorithms}.
  Client.prototype.getSigningCertificate = function () {
    return postJSON(this.base + "/api/signing-certificate", {}, 10000);
  };
  // sign answers {signature, signatureAlgorithm} for the Base64 hash the
  // site computed with hashFunction ("SHA-256", "SHA-384" or "SHA-512").
  Client.prototype.sign = function (certificate, hash, hashFunction) {
    return postJSON(this.base + "/api/sign", { certificate: certificate, hash: hash, hashFunction: hashFunction }, PIN_WAIT);
  };

  // subscribe follows /api/events, reconnecting with backoff until closed.
  Client.prototype.subscribe = function (handlers) {
    var self = this, ws = null, closed = false, delay = 500, timer = null;
    handlers = handlers || {};
    function status(s, detail) { if (handlers.onStatus) { handlers.onStatus(s, detail); } }
    function open() {
      if (closed) { return; }
      status("connecting");
      ws = new WebSocket("ws://" + HOST + ":" + self.port + "/api/events");
      ws.onopen = function () { delay = 500; status("open"); };
      ws.onmessage = function (m) {
        var ev;
        try { ev = JSON.parse(m.data); } catch (e) { return; }
        if (handlers.onEvent) { handlers.onEvent(ev); }
      };
      ws.onclose = function (e) {
        ws = null;
        status("closed", { code: e.code, reason: e.reason });
        if (!closed) {
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 10000);
        }
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

  // connect finds this user's agent: the port service first, then the
  // standalone port. Options: {portServicePorts, standalonePort, timeoutMs}.
  function connect(opts) {
    opts = opts || {};
    var ms = opts.timeoutMs || 2000;
    var servicePorts = opts.portServicePorts || PORT_SERVICE_PORTS;
    var standalone = opts.standalonePort || STANDALONE_PORT;
    // The port service's answer is final: when it says this user has no
    // agent (PR30007), the standalone port, where any local user could
    // listen, is not asked. Only when no port service answers at all is
    // this a single-user machine with a standalone agent.
    return firstOf(servicePorts.map(function (p) { return portFromService(p, ms); }))
      .then(function (answer) {
        if (answer.port) { return answer.port; }
        throw CardBridgeError("NOT_RUNNING", "the port service has no cardbridge agent for this user (" + answer.fault + ")");
      }, function () { return standalone; })
      .then(function (port) {
        var c = new Client(port);
        // A refused origin gets no CORS headers, so the browser cannot tell
        // it from an agent that is not there.
        return c.versionInfo().then(function () { return c; }, function (e) {
          throw CardBridgeError("NOT_RUNNING", "cardbridge is not installed or not running, or this site is not on its DomainList", e.status);
        });
      });
  }

  return { connect: connect, Client: Client, PORT_SERVICE_PORTS: PORT_SERVICE_PORTS, STANDALONE_PORT: STANDALONE_PORT };
});
