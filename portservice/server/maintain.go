package server

import (
	"context"
	"time"
)

// SessionEvent is a user session logging on or off (Windows terminal
// services).
type SessionEvent struct {
	Session  uint32
	LoggedOn bool
}

// SessionChanged notes a session event. A user's agent ends with their
// session and its registration with it; the user keeps the port (it is freed
// only after ExpireAfter without the user), so the last-seen times are saved
// now.
func (s *Service) SessionChanged(ev SessionEvent) {
	what := "logged off"
	if ev.LoggedOn {
		what = "logged on"
	}
	s.log.Info().Uint32("session", ev.Session).Msg("user session " + what)
	for _, r := range s.liveRegs() {
		s.store.Touch(r.user.ID)
	}
	go func() {
		if err := s.store.Flush(); err != nil {
			s.log.Error().Err(err).Msg("saving PortStore")
		}
	}()
}

// maintain saves last-seen times and frees ports of long-gone users.
func (s *Service) maintain(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastExpire := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range s.liveRegs() {
			s.store.Touch(r.user.ID)
		}
		if err := s.store.Flush(); err != nil {
			s.log.Error().Err(err).Msg("saving PortStore")
		}
		s.checkHolders()
		if time.Since(lastExpire) > 6*time.Hour {
			lastExpire = time.Now()
			for _, e := range s.store.Expire(s.opt.ExpireAfter) {
				s.log.Info().Str("user", e.User).Int("port", e.Port).Time("lastSeen", e.LastSeen).Msg("freed the port of a user gone a long while")
			}
		}
	}
}
