package server

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// registration is one live agent.
type registration struct {
	user peercred.User
	pid  int
	conn *localsock.Conn

	sendMu sync.Mutex // one message at a time on conn
	moveMu sync.Mutex // one squatting check and move at a time

	mu        sync.Mutex
	port      int
	listening bool
	changed   chan struct{} // closed and replaced when port or listening change
}

// send sends m to the agent.
func (r *registration) send(m portservice.Message) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.conn.Send(m, portservice.MessageTimeout)
}

func (r *registration) state() (port int, listening bool, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.port, r.listening, r.changed
}

func (r *registration) set(port int, listening bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.port, r.listening = port, listening
	close(r.changed)
	r.changed = make(chan struct{})
}

func (s *Service) liveRegs() []*registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*registration, 0, len(s.regs))
	for _, r := range s.regs {
		out = append(out, r)
	}
	return out
}

// acceptAgents serves agent registrations until ctx ends.
func (s *Service) acceptAgents(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(err).Msg("accepting an agent")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.serveAgent(ctx, c) }()
	}
}

// serveAgent handles one agent's registration for as long as it lasts.
// The connection is closed when ctx ends, however far the registration
// has got: one that completes as the service stops would otherwise hold
// the stop for as long as its agent runs.
func (s *Service) serveAgent(ctx context.Context, nc net.Conn) {
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	c := localsock.NewConn(nc)
	reg := s.register(ctx, c, nc)
	if reg == nil {
		stop()
		c.Close()
		return
	}
	// The registration lives on in a goroutine of its own, started small:
	// a host may hold a thousand idle agents, each waiting here.
	s.agents.Add(1)
	go func() {
		defer s.agents.Done()
		defer stop()
		s.followAgent(reg)
	}()
}

// cutShort is logged for a registration the service's stop ends before it
// completes: the agent was not refused.
const cutShort = "stopping: a registration under way was cut short (the agent registers again with the next service)"

// register handles an agent's register message and returns its live
// registration, or nil when it was refused (the agent has been told why)
// or the service stopped first.
func (s *Service) register(ctx context.Context, c *localsock.Conn, nc net.Conn) *registration {
	began := time.Now()
	user, err := localsock.PeerUser(nc)
	if err != nil {
		if ctx.Err() != nil {
			s.log.Info().Msg(cutShort)
			return nil
		}
		s.log.Warn().Err(err).Msg("refusing an agent whose user the OS cannot tell")
		return nil
	}
	pid, _ := localsock.PeerPID(nc)
	log := s.log.With().Str("user", user.ID).Int("pid", pid).Logger()
	var m portservice.Message
	if err := c.Recv(&m, portservice.MessageTimeout); err != nil || m.Type != portservice.MsgRegister {
		if ctx.Err() != nil {
			// serveAgent closed the connection as the service stops; the
			// agent was not refused.
			log.Info().Msg(cutShort)
			return nil
		}
		log.Warn().Err(err).Str("type", m.Type).Msg("refusing an agent that did not register")
		_ = c.Send(portservice.Message{Type: portservice.MsgError, Code: portservice.CodeBadRequest, Message: "expected a register message"}, portservice.MessageTimeout)
		return nil
	}
	if m.User != "" && m.User != user.ID {
		log.Warn().Str("event", "wrong-user-registration").Str("claimed", m.User).Msg("security: a process tried to register for another user")
		_ = c.Send(portservice.Message{Type: portservice.MsgError, Code: portservice.CodeWrongUser, Message: "you may only register for yourself (" + user.ID + ")"}, portservice.MessageTimeout)
		return nil
	}
	reg := &registration{user: user, pid: pid, conn: c, changed: make(chan struct{})}
	s.mu.Lock()
	other := s.regs[user.ID]
	// The registered agent may have gone without its connection's end
	// having reached us yet (on a host busy with a logon storm, seconds):
	// a new agent of the user is refused only while the old one's process
	// runs.
	if other != nil && (pid == 0 || other.pid != pid) && (other.pid == 0 || peercred.ProcessExists(other.pid)) {
		s.mu.Unlock()
		log.Info().Int("runningPID", other.pid).Msg("refusing a second agent for this user")
		_ = c.Send(portservice.Message{Type: portservice.MsgError, Code: portservice.CodeAlreadyRunning, Message: fmt.Sprintf("an agent for %s is running already (pid %d)", user.ID, other.pid)}, portservice.MessageTimeout)
		return nil
	}
	s.regs[user.ID] = reg
	s.mu.Unlock()
	switch {
	case other != nil && other.pid == pid:
		// The registered process registers again: it has restarted itself
		// onto an upgraded binary (same process, new image) faster than
		// its old connection's end reached us. The old registration is
		// stale; its follower ends without touching the new one.
		log.Info().Msg("the agent registers again from the same process; replacing its old registration")
		other.conn.Close()
	case other != nil:
		log.Info().Int("gonePID", other.pid).Msg("the user's previous agent has exited; replacing its registration")
		other.conn.Close()
	}
	ok := false
	defer func() {
		if !ok {
			s.unregister(reg)
		}
	}()
	if old, found := s.store.Lookup(user.ID); found {
		if sq, _ := s.squatter(user, old.Port); sq != nil {
			log.Warn().Str("event", "port-squatted").Int("port", old.Port).Str("squatter", sq.ID).
				Msg("security: another user holds this user's port; giving the user a new one")
		}
	}
	e, err := s.allocate(user)
	if err != nil {
		log.Error().Err(err).Msg("cannot give the agent a port")
		_ = reg.send(portservice.Message{Type: portservice.MsgError, Code: portservice.CodeNoPort, Message: err.Error()})
		return nil
	}
	reg.set(e.Port, false)
	list := s.inForce().List
	if err := reg.send(portservice.Message{Type: portservice.MsgRegistered, Port: e.Port, DomainList: string(list.Format()), DomainListVersion: list.Version()}); err != nil {
		log.Warn().Err(err).Msg("agent went before its registration was answered")
		return nil
	}
	// took: from the agent's connection to its answer, which on a host
	// busy with a logon storm includes waiting for the disk (a new port is
	// saved before the agent is told).
	log.Info().Int("port", e.Port).Str("agentVersion", m.Version).Dur("took", time.Since(began)).Msg("agent registered")
	ok = true
	return reg
}

// unregister forgets a registration that ended.
func (s *Service) unregister(reg *registration) {
	s.mu.Lock()
	if s.regs[reg.user.ID] == reg {
		delete(s.regs, reg.user.ID)
	}
	s.mu.Unlock()
	s.store.Touch(reg.user.ID)
	reg.conn.Close()
}

// followAgent reads an agent's messages until its connection ends.
func (s *Service) followAgent(reg *registration) {
	defer func() {
		s.unregister(reg)
		s.log.Info().Str("user", reg.user.ID).Int("pid", reg.pid).Msg("agent gone")
	}()
	for {
		// A host may hold a thousand agents that send a message or two a
		// day, so this goroutine waits with a shallow stack (2 KB) and
		// decodes and acts on each message on a short-lived goroutine:
		// JSON decoding and logging would grow the stack it keeps parked.
		if err := reg.conn.Wait(0); err != nil {
			return
		}
		ok := make(chan bool, 1)
		go func() {
			var m portservice.Message
			if err := reg.conn.Recv(&m, 0); err != nil {
				ok <- false
				return
			}
			s.agentMessage(reg, m)
			ok <- true
		}()
		if !<-ok {
			return
		}
	}
}

// agentMessage acts on one message from a registered agent.
func (s *Service) agentMessage(reg *registration, m portservice.Message) {
	log := s.log.With().Str("user", reg.user.ID).Int("pid", reg.pid).Logger()
	switch m.Type {
	case portservice.MsgListening:
		port, _, _ := reg.state()
		if m.Port != port {
			log.Warn().Int("port", m.Port).Int("assigned", port).Msg("agent listens on a port it was not given")
			return
		}
		reg.set(port, true)
		log.Debug().Int("port", port).Msg("agent listening")
	case portservice.MsgBindFailed:
		log.Warn().Int("port", m.Port).Msg("agent could not bind its port")
		if port, _, _ := reg.state(); m.Port == port {
			why := "the agent of " + reg.user.ID + " could not bind it"
			if other := s.otherHolder(reg.user, port); other != nil {
				log.Warn().Str("event", "port-squatted").Int("port", port).Str("squatter", other.ID).
					Msg("security: another user holds a socket on this user's port; moving the user's agent")
				why = "held by " + other.ID
			}
			s.remember(m.Port, why)
		}
		reg.moveMu.Lock()
		err := s.move(reg, m.Port)
		reg.moveMu.Unlock()
		if err != nil {
			log.Error().Err(err).Msg("cannot move the agent")
			_ = reg.send(portservice.Message{Type: portservice.MsgError, Code: portservice.CodeNoPort, Message: err.Error()})
		}
	default:
		log.Debug().Str("type", m.Type).Msg("ignoring an agent message")
	}
}
