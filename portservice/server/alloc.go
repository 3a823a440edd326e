package server

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/portstore"
)

// checkPort returns port if only reg's user listens on it. If another user
// holds it, the event is logged as a security warning, the user gets a new
// port and the agent is told to move; checkPort then returns 0.
func (s *Service) checkPort(reg *registration, port int) (int, error) {
	if cur, listening, _ := reg.state(); cur != port || !listening {
		return 0, nil // moved meanwhile
	}
	squatter, err := s.squatter(reg.user, port)
	switch {
	case err != nil:
		return 0, err
	case squatter == nil:
		return port, nil
	}
	s.log.Warn().Str("event", "port-squatted").Str("user", reg.user.ID).Int("port", port).Str("squatter", squatter.ID).
		Msg("security: another user holds this user's port; moving the user's agent")
	s.remember(port, "held by "+squatter.ID)
	return 0, s.move(reg, port)
}

// squatter returns a user, other than user, listening on port on loopback
// (IPv4 or IPv6), where a page's connection would reach it; nil when only
// user does, and errNoAgent when user does not. It runs on every
// GetPortNumber, so it asks only about listeners, which the kernel finds
// without walking every connection.
func (s *Service) squatter(user peercred.User, port int) (*peercred.User, error) {
	users, err := s.opt.listeners(uint16(port))
	if err != nil {
		return nil, fmt.Errorf("check who listens on port %d: %w", port, err)
	}
	found := false
	for _, u := range users {
		if u != user {
			return &u, nil
		}
		found = true
	}
	if !found {
		return nil, errNoAgent // the agent is gone or not listening yet
	}
	return nil, nil
}

// otherHolder returns a user other than user who owns a socket bound to port
// on loopback, a client socket included, or nil. It asks the OS for every
// socket on the port, which is slow on Linux (see unusable), so it is asked
// only when an agent could not bind its port, to name who holds it.
func (s *Service) otherHolder(user peercred.User, port int) *peercred.User {
	bs, err := s.opt.boundSockets(uint16(port), uint16(port))
	if err != nil {
		if !errors.Is(err, peercred.ErrUnsupported) {
			s.log.Debug().Err(err).Int("port", port).Msg("cannot tell who holds a port")
		}
		return nil
	}
	for _, b := range bs {
		if b.Owner != user {
			return &b.Owner
		}
	}
	return nil
}

// listenersOn returns the owners of the sockets listening on 127.0.0.1:port
// and [::1]:port.
func listenersOn(port uint16) ([]peercred.User, error) {
	var users []peercred.User
	for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
		l, err := peercred.FindListener(netip.AddrPortFrom(a, port))
		if errors.Is(err, peercred.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		users = append(users, l.Owner)
	}
	return users, nil
}

// wellKnown reports whether port is one of the well-known ports.
func (s *Service) wellKnown(port int) bool {
	return slices.Contains(s.opt.Ports, port)
}

// remember skips port in allocations and moves for the next failedFor, and
// logs it the first time.
func (s *Service) remember(port int, why string) {
	if s.failed.add(port) {
		s.log.Warn().Str("event", "port-unusable").Int("port", port).Str("reason", why).Dur("skippedFor", failedFor).
			Msg("a port cannot be used; skipping it in allocations for a while")
	}
}

// unusable says whether port cannot be given to user, whose port is now
// current (0 for none): it is well-known, it failed lately, another user
// listens on it on loopback (where a page's connection would reach them),
// or, unless it is current, it cannot be bound. Every failure is
// remembered.
//
// It asks only about listeners, as squatter does, which the kernel finds
// without walking its table of connections. On Linux a lookup of every
// socket bound to a port walks that whole table, which grows with the
// host's memory however few connections it holds (2.6 ms of CPU for
// 262,144 buckets, against 0.04 ms for the listeners), and every
// registration in a logon storm asks. A client socket on a port (bound,
// connected, not listening) cannot answer a page: on a port other than
// current the test-bind finds it, and an agent that cannot bind its
// current port says so, is moved, and has the holder named
// (otherHolder). The packages also reserve the range, so the OS gives
// none of its ports to outgoing connections.
func (s *Service) unusable(user peercred.User, current int) func(int) bool {
	return func(port int) bool {
		if s.wellKnown(port) || s.failed.has(port) {
			return true
		}
		users, err := s.opt.listeners(uint16(port))
		if err != nil && !errors.Is(err, peercred.ErrUnsupported) {
			s.log.Debug().Err(err).Int("port", port).Msg("cannot tell who listens on a port; test-binding it alone")
		}
		for _, u := range users {
			if u != user {
				s.remember(port, "held by "+u.ID)
				return true
			}
		}
		if port == current {
			// The user's own port is kept across restarts without a
			// test-bind: a socket of no user's (TIME_WAIT) or the user's
			// own agent restarting in place may hold it for a moment. An
			// agent that cannot bind it says so and is moved.
			return false
		}
		if err := s.opt.canBind(port); err != nil {
			s.remember(port, err.Error())
			return true
		}
		return false
	}
}

// allocate returns user's port (see portstore.Store.Allocate), or when every
// port of the range is unusable, one outside it.
func (s *Service) allocate(user peercred.User) (portstore.Entry, error) {
	cur, _ := s.store.Lookup(user.ID)
	e, err := s.store.Allocate(user.ID, s.unusable(user, cur.Port))
	if errors.Is(err, portstore.ErrFull) {
		return s.allocateOutside(user, 0, err)
	}
	return e, err
}

// outsideTries bounds how many ports the OS is asked for when the range is
// exhausted.
const outsideTries = 20

// allocateOutside gives user a port outside the range, other than old, that
// the OS chooses as free on both loopback addresses, and logs it; full is why
// the range could not serve.
func (s *Service) allocateOutside(user peercred.User, old int, full error) (portstore.Entry, error) {
	for range outsideTries {
		port, err := s.opt.freePort()
		if err != nil {
			return portstore.Entry{}, fmt.Errorf("allocate a port outside the range for %s: %w (after: %w)", user.ID, err, full)
		}
		if port == old || s.opt.Range.Contains(port) || port < portservice.MinPort || s.wellKnown(port) || s.failed.has(port) {
			continue
		}
		e, err := s.store.AllocateOutside(user.ID, port)
		if errors.Is(err, portstore.ErrTaken) {
			continue
		}
		if err != nil {
			return portstore.Entry{}, err
		}
		s.log.Warn().Str("event", "range-exhausted").Str("user", user.ID).Int("port", port).Int("lo", s.opt.Range.Lo).Int("hi", s.opt.Range.Hi).
			Int("unusable", s.failed.len()).Msg("every port of the range is unusable; the user gets a port outside it")
		go s.checkHolders()
		return e, nil
	}
	return portstore.Entry{}, fmt.Errorf("allocate a port outside the range for %s: the OS gave no usable port in %d tries: %w", user.ID, outsideTries, full)
}

// move gives reg's user a new port instead of old, which is remembered as
// failed, and tells the agent.
func (s *Service) move(reg *registration, old int) error {
	unusable := s.unusable(reg.user, 0)
	e, err := s.store.Reallocate(reg.user.ID, func(p int) bool { return p == old || unusable(p) })
	if errors.Is(err, portstore.ErrFull) {
		e, err = s.allocateOutside(reg.user, old, err)
	}
	if err != nil {
		return fmt.Errorf("reallocate the port of %s: %w", reg.user.ID, err)
	}
	reg.set(e.Port, false)
	s.log.Info().Str("user", reg.user.ID).Int("from", old).Int("to", e.Port).Msg("moving an agent to a new port")
	return reg.send(portservice.Message{Type: portservice.MsgMove, Port: e.Port})
}

// holderLimit is how many ports of the range, besides their own, one user may
// hold before the service warns about them.
const holderLimit = 4

// checkHolders finds the users holding more than holderLimit ports of the
// range besides their own, keeps them for versioninfo and doctor, and logs
// each when first found or when their count grows.
func (s *Service) checkHolders() {
	bs, err := s.opt.boundSockets(uint16(s.opt.Range.Lo), uint16(s.opt.Range.Hi))
	if err != nil {
		if !errors.Is(err, peercred.ErrUnsupported) {
			s.log.Debug().Err(err).Msg("cannot list the sockets on the range")
		}
		return
	}
	ports := map[peercred.User]map[uint16]bool{}
	for _, b := range bs {
		if e, ok := s.store.Lookup(b.Owner.ID); ok && e.Port == int(b.Addr.Port()) {
			continue // the user's own port
		}
		if ports[b.Owner] == nil {
			ports[b.Owner] = map[uint16]bool{}
		}
		ports[b.Owner][b.Addr.Port()] = true
	}
	holders := []api.PortHolder{}
	for u, ps := range ports {
		if len(ps) > holderLimit {
			holders = append(holders, api.PortHolder{User: u.ID, Ports: len(ps)})
		}
	}
	slices.SortFunc(holders, func(a, b api.PortHolder) int {
		return cmp.Or(cmp.Compare(b.Ports, a.Ports), cmp.Compare(a.User, b.User))
	})
	s.holders.Store(&holders)

	s.warnedMu.Lock()
	defer s.warnedMu.Unlock()
	now := map[string]int{}
	for _, h := range holders {
		now[h.User] = h.Ports
		if h.Ports > s.warned[h.User] {
			s.log.Warn().Str("event", "range-ports-held").Str("holder", h.User).Int("ports", h.Ports).Int("lo", s.opt.Range.Lo).Int("hi", s.opt.Range.Hi).
				Msg("security: one user holds many ports of the per-user range, which leaves fewer for everyone else")
		} else {
			now[h.User] = s.warned[h.User]
		}
	}
	s.warned = now
}
