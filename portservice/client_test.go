package portservice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice/localsock"
	"github.com/cardbridge/cardbridge/version"
)

// fakeService listens on a fresh local socket, as the port service does, and
// returns its path. For the first agent that connects it reads the register
// message and runs script with it on the service's end of the connection,
// which is closed when script returns.
func fakeService(t *testing.T, script func(c *localsock.Conn, reg Message)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ps.sock")
	if runtime.GOOS == "windows" {
		path = fmt.Sprintf(`\\.\pipe\cardbridge-client-test-%d-%d`, os.Getpid(), time.Now().UnixNano())
	}
	ln, err := localsock.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := localsock.NewConn(nc)
		defer c.Close()
		var m Message
		if err := c.Recv(&m, MessageTimeout); err != nil {
			t.Errorf("the service read no register message: %v", err)
			return
		}
		script(c, m)
	}()
	return path
}

// TestRegisterAnswers: Register sends who the agent is and turns each answer
// of the service into a registration or an error.
func TestRegisterAnswers(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	tests := []struct {
		name     string
		answer   Message
		wantPort int    // 0: Register fails
		wantCode string // the *ServiceError's code, "" for another error
		wantErr  string // a part of the error
	}{
		{name: "registered", answer: Message{Type: MsgRegistered, Port: 55000, DomainList: "https://my.esr.nhs.uk\n"}, wantPort: 55000},
		{name: "already running", answer: Message{Type: MsgError, Code: CodeAlreadyRunning, Message: "an agent for uid:1000 is running already (pid 42)"},
			wantCode: CodeAlreadyRunning, wantErr: "pid 42"},
		{name: "another user", answer: Message{Type: MsgError, Code: CodeWrongUser, Message: "you may only register for yourself"},
			wantCode: CodeWrongUser, wantErr: "WRONG_USER"},
		{name: "no port", answer: Message{Type: MsgError, Code: CodeNoPort, Message: "no free port in the range"},
			wantCode: CodeNoPort, wantErr: "no free port"},
		{name: "not an answer to register", answer: Message{Type: MsgMove, Port: 55001}, wantErr: `unexpected answer "move"`},
		{name: "registered without a port", answer: Message{Type: MsgRegistered}, wantErr: "(port 0)"},
		{name: "registered on no port there is", answer: Message{Type: MsgRegistered, Port: 65536}, wantErr: "(port 65536)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := make(chan Message, 1)
			path := fakeService(t, func(c *localsock.Conn, reg Message) {
				sent <- reg
				if err := c.Send(tt.answer, MessageTimeout); err != nil {
					t.Errorf("answer: %v", err)
				}
			})
			reg, err := Register(context.Background(), path, self)
			select {
			case got := <-sent:
				if want := (Message{Type: MsgRegister, User: self.ID, PID: os.Getpid(), Version: version.Version}); got != want {
					t.Errorf("the service was sent %+v, want %+v", got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the service got no register message; Register: %v", err)
			}
			if tt.wantPort != 0 {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				defer reg.Close()
				if reg.Port != tt.wantPort || reg.Domains != tt.answer.DomainList {
					t.Errorf("registered on %d with %q, want %d with %q", reg.Port, reg.Domains, tt.wantPort, tt.answer.DomainList)
				}
				return
			}
			if err == nil {
				reg.Close()
				t.Fatalf("Register succeeded on port %d, want an error with %q", reg.Port, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want one with %q", err, tt.wantErr)
			}
			var se *ServiceError
			if errors.As(err, &se) != (tt.wantCode != "") || (se != nil && se.Code != tt.wantCode) {
				t.Errorf("error %v: service error %+v, want code %q", err, se, tt.wantCode)
			}
			if running := errors.Is(err, ErrAlreadyRunning); running != (tt.wantCode == CodeAlreadyRunning) {
				t.Errorf("errors.Is(%v, ErrAlreadyRunning) = %v", err, running)
			}
		})
	}
}

// TestRegisterWithoutService: with nothing listening, Register says it cannot
// reach the service.
func TestRegisterWithoutService(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	if runtime.GOOS == "windows" {
		path = fmt.Sprintf(`\\.\pipe\cardbridge-client-test-none-%d`, os.Getpid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if reg, err := Register(ctx, path, peercred.User{ID: "uid:1000"}); err == nil || !strings.Contains(err.Error(), "reach the port service") {
		if reg != nil {
			reg.Close()
		}
		t.Errorf("Register with no service = %v, want an error reaching it", err)
	}
}

// TestRegistrationMessages follows a registration: the DomainList and moves
// the service sends arrive on Updates, an answer to bind-failed goes to
// BindFailed only, and Updates closes when the service goes.
func TestRegistrationMessages(t *testing.T) {
	expect := func(c *localsock.Conn, want Message) {
		var m Message
		if err := c.Recv(&m, MessageTimeout); err != nil || m != want {
			t.Errorf("the service got %+v, %v; want %+v", m, err, want)
		}
	}
	send := func(c *localsock.Conn, m Message) {
		if err := c.Send(m, MessageTimeout); err != nil {
			t.Errorf("send %+v: %v", m, err)
		}
	}
	path := fakeService(t, func(c *localsock.Conn, _ Message) {
		send(c, Message{Type: MsgRegistered, Port: 55000})
		send(c, Message{Type: MsgDomainList, DomainList: "https://a.example\n", DomainListVersion: "2"})
		expect(c, Message{Type: MsgListening, Port: 55000})
		expect(c, Message{Type: MsgBindFailed, Port: 55000})
		send(c, Message{Type: MsgMove, Port: 55001}) // the answer
		send(c, Message{Type: MsgMove, Port: 55002}) // a move of the service's own
		expect(c, Message{Type: MsgBindFailed, Port: 55002})
		send(c, Message{Type: MsgError, Code: CodeNoPort, Message: "no free port in the range"})
	})
	reg, err := Register(context.Background(), path, peercred.User{ID: "uid:1000"})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	next := func() (Message, bool) {
		select {
		case m, ok := <-reg.Updates:
			return m, ok
		case <-time.After(5 * time.Second):
			t.Fatal("no update within 5 s")
			return Message{}, false
		}
	}
	if m, _ := next(); m.Type != MsgDomainList || m.DomainList != "https://a.example\n" || m.DomainListVersion != "2" {
		t.Errorf("first update %+v, want the DomainList", m)
	}
	if err := reg.Listening(55000); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if port, err := reg.BindFailed(ctx, 55000); err != nil || port != 55001 {
		t.Errorf("BindFailed = %d, %v; want 55001", port, err)
	}
	if m, _ := next(); m.Type != MsgMove || m.Port != 55002 {
		t.Errorf("update %+v, want the move to 55002", m)
	}
	var se *ServiceError
	if port, err := reg.BindFailed(ctx, 55002); !errors.As(err, &se) || se.Code != CodeNoPort {
		t.Errorf("BindFailed with no port left = %d, %v; want a %s service error", port, err, CodeNoPort)
	}
	if m, ok := next(); ok {
		t.Errorf("update %+v after the service went, want Updates closed", m)
	}
}

func TestServiceError(t *testing.T) {
	tests := []struct {
		err     *ServiceError
		text    string
		running bool
	}{
		{&ServiceError{Code: CodeAlreadyRunning, Message: "pid 42"}, "port service: ALREADY_RUNNING: pid 42", true},
		{&ServiceError{Code: CodeWrongUser, Message: "only yourself"}, "port service: WRONG_USER: only yourself", false},
		{&ServiceError{Code: CodeNoPort, Message: "full"}, "port service: NO_PORT: full", false},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("register: %w", tt.err)
		if tt.err.Error() != tt.text || errors.Is(wrapped, ErrAlreadyRunning) != tt.running {
			t.Errorf("%#v: %q, Is ErrAlreadyRunning %v; want %q, %v", tt.err, tt.err.Error(), errors.Is(wrapped, ErrAlreadyRunning), tt.text, tt.running)
		}
	}
}

// TestRegisterServiceGone: a service that closes the connection before it
// answers (it is stopping, for a restart) is told apart from one that
// answers, so that the agent can wait for the next one.
func TestRegisterServiceGone(t *testing.T) {
	path := fakeService(t, func(*localsock.Conn, Message) {}) // reads the register message, closes
	reg, err := Register(context.Background(), path, peercred.User{ID: "uid:1000"})
	if err == nil {
		reg.Close()
		t.Fatal("Register succeeded with a service that closed the connection")
	}
	if !errors.Is(err, ErrServiceGone) {
		t.Errorf("Register = %v, want ErrServiceGone", err)
	}

	// An answer, even a refusal, is not the service going away.
	path = fakeService(t, func(c *localsock.Conn, _ Message) {
		_ = c.Send(Message{Type: MsgError, Code: CodeNoPort, Message: "no free port"}, MessageTimeout)
	})
	if _, err := Register(context.Background(), path, peercred.User{ID: "uid:1000"}); err == nil || errors.Is(err, ErrServiceGone) {
		t.Errorf("Register refused = %v, want a refusal that is not ErrServiceGone", err)
	}
}
