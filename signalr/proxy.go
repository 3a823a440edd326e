package signalr

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/cardbridge/cardbridge/api"
)

// serveProxy answers GET /signalr/hubs (and its other name, /signalr/js):
// the hub proxy script that jQuery SignalR pages load with
// <script src="http://localhost:P/signalr/hubs"> after jquery.signalR.js.
// It defines $.connection.hub, a connection to this server, and for each
// hub $.connection.<hub> with server.<method>(...) that invokes the
// method, as ASP.NET SignalR's generated proxy does.
//
// A script load carries no Origin, so the Guard in front of the server has
// checked only the caller's OS user and Host; and an https page loading
// from http://localhost sends no Referer either (Chromium drops it on the
// downgrade), so the page cannot be identified. The script is therefore
// the same for every caller and says nothing of the card or the user: it
// names the hubs and methods, which any SignalR client of the service
// knows. What it enables, negotiate and every later call, carries an
// Origin and is refused to pages off the DomainList. Where a browser does
// send a Referer (an http page, or referrerpolicy="unsafe-url"), its
// origin must be allowed (Options.AllowOrigin), or the script is refused.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, base string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, api.CodeBadRequest, "signalr hubs: method must be GET")
		return
	}
	if origin, ok := refererOrigin(r); ok && r.Header.Get("Origin") == "" && !s.allowOrigin(origin) && origin != "http://"+r.Host {
		s.log.Warn().Str("referer", origin).Str("remote", r.RemoteAddr).Msg("refused the hub proxy script to a page whose origin is not on the DomainList")
		writeError(w, http.StatusForbidden, api.CodeOriginNotAllowed, "signalr hubs: origin not allowed")
		return
	}
	b := s.proxyScript("http://" + r.Host + base)
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	// A cross-origin <script> must be allowed to read it.
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// refererOrigin returns the origin (scheme://host[:port]) of the request's
// Referer, and whether it had a usable one.
func refererOrigin(r *http.Request) (string, bool) {
	ref := r.Header.Get("Referer")
	if ref == "" {
		return "", false
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "null", true // never allowed
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), true
}

// allowOrigin applies Options.AllowOrigin.
func (s *Server) allowOrigin(origin string) bool {
	return s.allow == nil || s.allow(origin)
}

// proxyScript is the hub proxy script for a connection to url.
func (s *Server) proxyScript(url string) []byte {
	// jsString quotes a value for the script; JSON escapes <, > and & too,
	// so nothing can end the script element early.
	jsString := func(v string) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	var names []string
	for _, h := range s.hubs {
		names = append(names, h)
	}
	sort.Strings(names)

	var b strings.Builder
	b.WriteString(proxyHead)
	for _, hub := range names {
		q := jsString(hub)
		b.WriteString("\t\tproxies[" + q + "] = this.createHubProxy(" + q + ");\n")
		b.WriteString("\t\tproxies[" + q + "].client = {};\n")
		b.WriteString("\t\tproxies[" + q + "].server = {\n")
		methods := s.methods[hub]
		for i, m := range methods {
			sep := ","
			if i == len(methods)-1 {
				sep = ""
			}
			b.WriteString("\t\t\t" + jsString(lowerFirst(m)) + ": invoker(proxies[" + q + "], " + jsString(m) + ")" + sep + "\n")
		}
		b.WriteString("\t\t};\n")
	}
	b.WriteString("\t\treturn proxies;\n\t};\n\n")
	b.WriteString("\tsignalR.hub = $.hubConnection(" + jsString(url) + ", { useDefaultPath: false });\n")
	b.WriteString(proxyTail)
	return []byte(b.String())
}

// lowerFirst is a method's name in the script: SignalR camel-cases server
// method names for JavaScript.
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// The fixed parts of the proxy script. They use only what jQuery 1.6.4 to
// 4.x and jquery.signalR 2.x offer.
const proxyHead = `/*!
 * cardbridge: SignalR hub proxies for jquery.signalR 2.x (/signalr/hubs).
 */
(function ($, window, undefined) {
	"use strict";

	if (typeof $ !== "function" || typeof $.signalR !== "function" || typeof $.hubConnection !== "function") {
		throw new Error("SignalR: SignalR is not loaded. Please ensure jquery.signalR-x.js is referenced before ~/signalr/hubs.");
	}

	var signalR = $.signalR;
	var own = Object.prototype.hasOwnProperty;

	// subscribe registers (on) or removes the page's client methods,
	// hub.client.<name> = function, on each hub proxy.
	function subscribe(proxies, on) {
		for (var key in proxies) {
			if (!own.call(proxies, key) || !proxies[key].hubName) {
				continue;
			}
			var hub = proxies[key];
			for (var name in hub.client) {
				if (!own.call(hub.client, name) || typeof hub.client[name] !== "function") {
					continue;
				}
				if (on) {
					hub.on(name, call(hub, hub.client[name]), hub.client[name]);
				} else {
					hub.off(name, hub.client[name]);
				}
			}
		}
	}

	function call(hub, fn) {
		return function () {
			return fn.apply(hub, Array.prototype.slice.call(arguments));
		};
	}

	// invoker makes hub.server.<method>(...), which invokes the server
	// method and returns its deferred.
	function invoker(hub, method) {
		return function () {
			return hub.invoke.apply(hub, [method].concat(Array.prototype.slice.call(arguments)));
		};
	}

	$.hubConnection.prototype.createHubProxies = function () {
		var proxies = {};
		this.starting(function () {
			subscribe(proxies, true);
			this._registerSubscribedHubs();
		}).disconnected(function () {
			subscribe(proxies, false);
		});

`

const proxyTail = `	$.extend(signalR, signalR.hub.createHubProxies());
}(window.jQuery, window));
`
