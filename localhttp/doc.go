// Package localhttp is the local HTTP gate: how the agent's API (package
// httpapi) and the port service serve HTTP to pages and programs on this machine.
//
// Its parts:
//   - Listen, CanBind and FreePort: listeners on loopback addresses only, and
//     who holds a port when one cannot be had (serve.go, probe.go, bind_*.go);
//   - Guard.Serve: the http.Server, with cardbridge's limits, that serves a
//     handler behind the Guard (serve.go);
//   - admitListener: the caller's OS user checked as each connection is
//     accepted, and per-user connection limits (admit.go);
//   - Guard.Wrap: the checks every request passes, in order: same OS user,
//     Host against DNS rebinding, no "OPTIONS *", Origin on the DomainList;
//     then CORS and Private Network Access preflights, security headers and
//     the body limit (guard.go);
//   - refusalLog: refusals logged in full a few a minute per caller and
//     code, the rest summed up (refusals.go);
//   - WriteJSON, WriteJSONBytes, WriteError and NotFound: the one way JSON
//     answers and errors are written (answer.go).
package localhttp
