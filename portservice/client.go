package portservice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice/localsock"
	"github.com/cardbridge/cardbridge/version"
)

// Registration is an agent's live registration with the port service. The
// service holds the user's port for the agent while it lasts; closing it
// (or the agent's exit) ends it.
type Registration struct {
	conn    *localsock.Conn
	Port    int    // the port to serve on
	Domains string // the host's DomainList text
	// Updates delivers "move" and "domainlist" messages. It is closed when
	// the connection to the service ends.
	Updates <-chan Message
	updates chan Message
	replies chan Message // answers to bind-failed
	waiting atomic.Bool  // a bind-failed awaits its answer
}

// ErrServiceGone is returned by Register when the port service closed the
// connection before it answered: it was stopping (a restart, an upgrade).
var ErrServiceGone = errors.New("the port service closed the connection before answering")

// Register asks the port service at path for self's port. It fails with
// ErrAlreadyRunning (wrapped in a *ServiceError) when the user's agent runs
// already, with localsock.ErrNoService when no service listens at path,
// and with ErrServiceGone when the service went away before answering.
func Register(ctx context.Context, path string, self peercred.User) (*Registration, error) {
	nc, err := localsock.Dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("reach the port service at %s: %w", path, err)
	}
	c := localsock.NewConn(nc)
	if err := c.Send(Message{Type: MsgRegister, User: self.ID, PID: os.Getpid(), Version: version.Version}, MessageTimeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("register with the port service: %w", gone(err))
	}
	var m Message
	if err := c.Recv(&m, MessageTimeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("register with the port service: %w", gone(err))
	}
	switch {
	case m.Type == MsgError:
		c.Close()
		return nil, &ServiceError{Code: m.Code, Message: m.Message}
	case m.Type != MsgRegistered || m.Port <= 0 || m.Port > 65535:
		c.Close()
		return nil, fmt.Errorf("register with the port service: unexpected answer %q (port %d)", m.Type, m.Port)
	}
	r := &Registration{conn: c, Port: m.Port, Domains: m.DomainList, updates: make(chan Message, 16), replies: make(chan Message, 1)}
	r.Updates = r.updates
	go r.read()
	return r, nil
}

// gone adds ErrServiceGone to an error that says the service closed the
// connection.
func gone(err error) error {
	if localsock.PeerClosed(err) {
		return fmt.Errorf("%w: %w", ErrServiceGone, err)
	}
	return err
}

// read passes the service's messages on until the connection ends.
func (r *Registration) read() {
	defer close(r.updates)
	for {
		var m Message
		if err := r.conn.Recv(&m, 0); err != nil {
			return
		}
		switch {
		case (m.Type == MsgMove || m.Type == MsgError) && r.waiting.CompareAndSwap(true, false):
			r.replies <- m // the answer to a bind-failed
		case m.Type == MsgMove || m.Type == MsgDomainList:
			r.updates <- m
		}
	}
}

// Listening tells the service the agent now serves on port.
func (r *Registration) Listening(port int) error {
	return r.conn.Send(Message{Type: MsgListening, Port: port}, MessageTimeout)
}

// BindFailed tells the service the agent could not bind port (someone else
// holds it) and returns the new port the service gives instead.
func (r *Registration) BindFailed(ctx context.Context, port int) (int, error) {
	r.waiting.Store(true)
	if err := r.conn.Send(Message{Type: MsgBindFailed, Port: port}, MessageTimeout); err != nil {
		return 0, fmt.Errorf("ask the port service for another port: %w", err)
	}
	select {
	case m := <-r.replies:
		if m.Type == MsgError {
			return 0, &ServiceError{Code: m.Code, Message: m.Message}
		}
		return m.Port, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(MessageTimeout):
		return 0, fmt.Errorf("ask the port service for another port: no answer within %v", MessageTimeout)
	}
}

// Close ends the registration.
func (r *Registration) Close() error { return r.conn.Close() }
