// Package api holds cardbridge's wire formats, shared by the command line
// (`cardbridge card --json`) and the browser-facing HTTP API: the CARD and
// reader objects and the error object with its codes.
package api

import (
	"time"
)

// Card is the CARD object: a card present in a reader and, when its
// identity could be read, the holder's UUID and certificate.
type Card struct {
	Present     bool   `json:"present"`
	Reader      string `json:"reader,omitempty"`
	ATR         string `json:"atr,omitempty"` // upper-case hex
	UUID        string `json:"uuid,omitempty"`
	Subject     string `json:"subject,omitempty"`
	NotAfter    string `json:"notAfter,omitempty"`    // RFC 3339
	Certificate string `json:"certificate,omitempty"` // base64 DER
	// Error says why the identity could not be read from a present card.
	Error *Error `json:"error,omitempty"`
}

// NoCard is the answer when no reader holds a card.
var NoCard = Card{Present: false}

// Reader is one entry of the readers list.
type Reader struct {
	Name        string `json:"name"`
	CardPresent bool   `json:"cardPresent"`
	Card        *Card  `json:"card"` // null when no card
}

// Readers is the answer to GET /api/readers and `cardbridge card --json`.
type Readers struct {
	Readers []Reader `json:"readers"`
}

// VersionInfo is the answer to GET /api/versioninfo, from the agent and
// from the port service.
type VersionInfo struct {
	Product     string          `json:"product"`
	Version     string          `json:"version"`
	Commit      string          `json:"commit"`
	API         int             `json:"api"`
	OS          string          `json:"os"`
	Arch        string          `json:"arch"`
	Port        int             `json:"port"`
	PortService PortServiceInfo `json:"portService"`
	DomainList  DomainListInfo  `json:"domainList"`
	TrustedURL  TrustedURLInfo  `json:"trustedUrl"`
	// PortRange is the port service's per-user port range; absent from the
	// agent's answer.
	PortRange *PortRangeInfo `json:"portRange,omitempty"`
	// Settings are the program's settings (its flags) and where each value
	// came from.
	Settings []Setting `json:"settings,omitempty"`
	// PolicyProblems are what was wrong with the administrator's policies
	// (a source that cannot be read, a policy of the wrong type or name),
	// which were ignored.
	PolicyProblems []string `json:"policyProblems,omitempty"`
}

// Setting is one of a program's settings and where its value came from.
type Setting struct {
	// Name is the setting's flag, e.g. "log-level".
	Name  string `json:"name"`
	Value string `json:"value"`
	// Source is "policy" (an administrator's policy, which beats the
	// rest), "flag", "environment" or "default".
	Source string `json:"source"`
	// Where is the policy's registry value or file, the flag or the
	// environment variable; absent for a default.
	Where string `json:"where,omitempty"`
}

// PortRangeInfo describes the port service's per-user port range and who
// crowds it.
type PortRangeInfo struct {
	Lo int `json:"lo"`
	Hi int `json:"hi"`
	// Unusable counts the ports skipped for now because they could not be
	// bound, were squatted, or an agent could not bind them.
	Unusable int `json:"unusable"`
	// Outside counts the users given a port outside the range because every
	// port of it was unusable.
	Outside int `json:"outside"`
	// Holders are users holding many ports of the range besides their own.
	Holders []PortHolder `json:"holders,omitempty"`
}

// PortHolder is a user holding Ports ports of the per-user range that are not
// their own.
type PortHolder struct {
	User  string `json:"user"`
	Ports int    `json:"ports"`
}

// APIVersion is the version of this API, "api" in VersionInfo.
const APIVersion = 1

// PortServiceInfo says whether the agent is registered with a port service.
type PortServiceInfo struct {
	Connected bool `json:"connected"`
}

// DomainListInfo describes the allow-list of origins in force.
type DomainListInfo struct {
	Version string   `json:"version"`
	Source  string   `json:"source"` // "builtin", "file:<path>" or "portservice"
	Entries []string `json:"entries"`
	// Updated is when the list in force was last saved or put in force
	// (for a file, its modification time); absent when unknown.
	Updated *time.Time `json:"updated,omitempty"`
}

// TrustedURLInfo describes the trusted update URL and what it last said.
type TrustedURLInfo struct {
	URL             string     `json:"url"`
	LatestVersion   string     `json:"latestVersion"`
	Checked         *time.Time `json:"checked"` // null when never checked
	UpdateAvailable bool       `json:"updateAvailable"`
	// Error is why the last check failed; absent when it succeeded or
	// none was made. A failed check keeps the cached DomainList in force.
	Error string `json:"error,omitempty"`
	// LastSuccess is when a check last succeeded; absent when none has.
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	// DomainListVersion is the DomainList version the URL last
	// published; absent when it names none or has not been read.
	DomainListVersion string `json:"domainListVersion,omitempty"`
}
