// Package portservice is cardbridge's port broker for multi-session hosts
// (Citrix, RDS, fast user switching), the equivalent of the NHS Port
// Service. It gives every user's agent a port of its own from a range,
// remembers it across restarts (PortStore.txt), tells web pages which port
// is theirs (GET /PRS/GetPortNumber, answered from the OS owner of the
// page's TCP connection), checks that nobody else squats a user's port, and
// keeps the host's DomainList (DomainList.txt, refreshed from a trusted
// URL) for every agent.
//
// Agents register over a local socket whose peer the OS vouches for
// (package localsock); this file defines the messages on it.
package portservice

import (
	"errors"
	"fmt"
)

// Message is one newline-delimited JSON message between an agent and the
// port service.
//
// Agent to service: "register" (User, PID, Version), then "listening"
// (Port) once it serves on its port, or "bind-failed" (Port) when it
// cannot bind it.
//
// Service to agent: "registered" (Port, DomainList, DomainListVersion) or
// "error" (Code, Message); later "move" (Port) when the agent must serve
// on another port, and "domainlist" (DomainList, DomainListVersion) when the
// host's list changes.
type Message struct {
	Type              string `json:"type"`
	User              string `json:"user,omitempty"`
	PID               int    `json:"pid,omitempty"`
	Version           string `json:"version,omitempty"`
	Port              int    `json:"port,omitempty"`
	DomainList        string `json:"domainList,omitempty"`
	DomainListVersion string `json:"domainListVersion,omitempty"`
	Code              string `json:"code,omitempty"`
	Message           string `json:"message,omitempty"`
}

// Message types.
const (
	MsgRegister   = "register"
	MsgRegistered = "registered"
	MsgListening  = "listening"
	MsgBindFailed = "bind-failed"
	MsgMove       = "move"
	MsgDomainList = "domainlist"
	MsgError      = "error"
)

// Error codes of "error" messages.
const (
	CodeAlreadyRunning = "ALREADY_RUNNING" // this user has a live agent already
	CodeWrongUser      = "WRONG_USER"      // the agent asked for another user
	CodeNoPort         = "NO_PORT"         // the range is full
	CodeBadRequest     = "BAD_REQUEST"
)

// ErrAlreadyRunning is returned by Register when the user's agent is
// running already.
var ErrAlreadyRunning = errors.New("another cardbridge agent is already running for this user")

// ServiceError is an "error" message from the port service.
type ServiceError struct {
	Code, Message string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("port service: %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrAlreadyRunning) true for ALREADY_RUNNING.
func (e *ServiceError) Is(target error) bool {
	return target == ErrAlreadyRunning && e.Code == CodeAlreadyRunning
}
