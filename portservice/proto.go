// Package portservice is the agent's side of cardbridge's port broker for
// multi-session hosts (Citrix, RDS, fast user switching), the equivalent of
// the NHS Port Service, and the protocol both sides speak. An agent
// registers (Register) over a local socket whose peer the OS vouches for
// (package localsock), is given a port of its own and the host's DomainList,
// says when it listens, and is told when to move or when the list changes;
// this file defines the messages on that socket. The package also holds the
// well-known ports pages try (DefaultPorts) and the per-user port range
// (Range), which the service, its port store, its command, the installer and
// doctor share.
//
// The service itself is package portservice/server; this package imports
// neither it nor its state, so the agent does not link them.
package portservice

import (
	"errors"
	"fmt"
	"time"
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

// MessageTimeout bounds one message exchange on the local socket.
const MessageTimeout = 10 * time.Second

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
