// Package web holds the JavaScript client that pages include to talk to the
// cardbridge agent. The file is plain JavaScript kept in the repository and
// served by the agent at /cardbridge.js; there is no build step.
package web

import _ "embed"

// ClientJS is cardbridge.js.
//
//go:embed cardbridge.js
var ClientJS []byte
