package httpapi

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/localhttp"
)

// WebSocket timing: a ping every pingEvery keeps idle connections (and the
// proxies between) alive; a client that answers nothing for pongWait, or
// cannot take a message within writeWait, is dropped.
const (
	pingEvery = 25 * time.Second
	pongWait  = 60 * time.Second
	writeWait = 10 * time.Second
	// eventBuffer is how many events may wait for a slow client before it
	// is dropped, so that it never holds up the others.
	eventBuffer = 64
)

// frames makes each event's WebSocket frame once, however many streams send
// it: every stream receives the same *agent.Event, and the first to send it
// prepares the frame that the others reuse. It keeps the frames of the last
// frameSlots events, more than a stream can have waiting before it is
// dropped (eventBuffer), so a frame is made again only for a slot taken by
// a later event.
type frames struct {
	mu    sync.Mutex
	slots [frameSlots]struct {
		ev *agent.Event
		pm *websocket.PreparedMessage
	}
}

const frameSlots = 2 * eventBuffer

// get returns ev's frame.
func (f *frames) get(ev *agent.Event) (*websocket.PreparedMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	slot := &f.slots[ev.Seq%frameSlots]
	if slot.ev != ev {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, ev.JSON)
		if err != nil {
			return nil, err
		}
		slot.ev, slot.pm = ev, pm
	}
	return slot.pm, nil
}

// handleEvents streams the snapshot and every later event over a WebSocket.
// After the upgrade the HTTP handler returns: the stream lives on in two
// small goroutines of its own (one reads pongs and close frames, one
// writes), so no HTTP server state stays behind for a long-lived client.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "this endpoint is a WebSocket")
		return
	}
	// The upgrader writes its own answer; carry the Guard's headers over.
	conn, err := s.upgrader.Upgrade(w, r, w.Header().Clone())
	if err != nil {
		return // the upgrader has answered
	}
	origin := r.Header.Get("Origin")
	s.mu.Lock()
	s.ws[conn] = origin
	s.mu.Unlock()
	if origin != "" && !s.domains().List.Allows(origin) {
		// The DomainList changed while this stream opened, after
		// DomainsChanged looked.
		s.DomainsChanged()
		return
	}
	snapshot, sub := s.opt.Backend.Subscribe(eventBuffer)

	conn.SetReadLimit(512)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	go s.stream(conn, r.RemoteAddr, snapshot, sub, gone)
}

// stream writes events to one WebSocket until it fails, its reader sees the
// client go, or the subscription ends; then it closes the connection.
func (s *Server) stream(conn *websocket.Conn, remote string, snapshot *agent.Event, sub *agent.Subscription, gone <-chan struct{}) {
	defer func() {
		sub.Close()
		s.mu.Lock()
		delete(s.ws, conn)
		s.mu.Unlock()
		_ = conn.Close()
	}()
	if err := s.send(conn, snapshot); err != nil {
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				if errors.Is(sub.Err(), agent.ErrSlowSubscriber) {
					s.log.Info().Str("remote", remote).Msg("dropping an event stream that fell behind")
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow"), time.Now().Add(time.Second))
				} else {
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "agent stopping"), time.Now().Add(time.Second))
				}
				return
			}
			if err := s.send(conn, ev); err != nil {
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

// send writes one event. The snapshot is the subscriber's own; every other
// event goes out as the frame all streams share.
func (s *Server) send(conn *websocket.Conn, ev *agent.Event) error {
	_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
	if ev.Type != agent.TypeSnapshot {
		if pm, err := s.frames.get(ev); err == nil {
			return conn.WritePreparedMessage(pm)
		}
	}
	return conn.WriteMessage(websocket.TextMessage, ev.JSON)
}
