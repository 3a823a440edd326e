// Package signalr serves the part of classic ASP.NET SignalR 2
// (Microsoft.AspNet.SignalR 2.x, not ASP.NET Core SignalR) that the
// JavaScript clients jquery.signalR 2.2–2.4 and signalr-no-jquery use to
// call hub methods on a server, so that pages written for NHS Credential
// Management can call the agent's hub signingHub unchanged.
//
// The agent mounts a Server at /signalr/ behind its Guard, which has already
// checked the caller's OS user, Host and Origin, set CORS headers, answered
// preflights and capped request bodies. The endpoints, named by the last
// path segment, are:
//
//	negotiate  GET, POST  clientProtocol 1.3 to 2.1 (echoed as ProtocolVersion; 400 otherwise)
//	           and connectionData [{"name":hub}] → {"Url","ConnectionToken","ConnectionId",
//	           "KeepAliveTimeout":20,"DisconnectTimeout":30,"ConnectionTimeout":110,
//	           "TryWebSockets":false,"ProtocolVersion","TransportConnectTimeout":5,"LongPollDelay":0}
//	connect    POST longPolling → {"C":cursor,"S":1,"M":[...]} at once;
//	           GET serverSentEvents → an event stream (see below)
//	start      GET, POST  → {"Response":"started"}
//	send       POST  form field data = a hub invocation {"H","M","A","I","S"?} →
//	           {"I","R"?} or {"I","E"} ("H":true and "D" for a HubError)
//	poll       GET, POST  longPolling, messageId (form or query) → {"C","M":[...]} as soon
//	           as messages after the cursor are queued, else after Options.PollWait
//	reconnect  GET, POST  like poll (longPolling) or connect without "S" (serverSentEvents)
//	abort      POST  ends the connection → {}
//	ping       GET, POST  → {"Response":"pong"}; it carries no connection token
//	hubs, js   GET  the hub proxy script for jquery.signalR pages (see serveProxy)
//
// Every request but negotiate and ping names its connection with the
// connectionToken from negotiate: an opaque, unguessable value that is
// valid only for that connection and only from the Origin that negotiated
// it. A missing token is a 400, an unknown, expired or aborted one a 403,
// which the client treats as a lost connection. The transport must be
// longPolling or serverSentEvents: negotiate says TryWebSockets false, so
// clients fall back from webSockets. JSONP is not served.
//
// A serverSentEvents stream starts with "data: initialized", then, on
// connect, the init message {"C","S":1,"M":[]}; it carries {"C","M":[...]}
// as messages are queued and "data: {}" as a keep-alive every 10 s.
//
// Messages from server to client are client hub method calls queued with
// Conn.Send; cursors ("C", messageId) are decimal message numbers, and a poll
// acknowledges, and so drops, every message up to its messageId. Hub
// results travel in the send response, as they do in SignalR 2's
// longPolling transport; each invocation runs in its own goroutine, bounded
// by the send request and Options.InvokeTimeout.
//
// A connection with no request in flight for DisconnectTimeout (30 s) is
// removed; at most Options.MaxConns are kept, the one idle longest giving
// way to a new one. Answers are JSON (application/json; charset=utf-8) and
// never cached; refusals are {"error":{"code","message"}} as in the rest of
// cardbridge's API.
package signalr
