package localhttp

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/peercred"
)

// admitListener checks every connection's OS user as it is accepted,
// before it can hold one of the server's connection slots or goroutines:
//
//   - a Guard with a Self (the agent) turns other users away at once, with
//     a WRONG_USER answer, and closes their connections;
//   - a Guard with MaxConnsPerUser (the port service) admits at most that
//     many connections of each user at a time and turns the rest away with
//     BUSY, so that no user can starve another's GetPortNumber.
//
// The owner it finds travels with the connection (ownedConn), so the Guard
// does not look it up again. It also bounds the listener's open
// connections: at its limit it accepts nothing more until one closes, and
// new connections wait in the kernel's queue.
type admitListener struct {
	net.Listener
	g       *Guard
	slots   chan struct{} // one held by each open connection
	done    chan struct{} // closed by Close
	closing sync.Once
}

// newAdmitListener admits ln's connections for g, at most maxConns open
// at a time.
func newAdmitListener(ln net.Listener, g *Guard, maxConns int) *admitListener {
	return &admitListener{Listener: ln, g: g, slots: make(chan struct{}, maxConns), done: make(chan struct{})}
}

// userConns counts each user's open connections across a Guard's
// listeners.
type userConns struct {
	max   int // 0: no limit
	mu    sync.Mutex
	perID map[string]int
}

// ownedConn is an admitted connection, as accepted (a *net.TCPConn), and
// the OS user at its other end.
type ownedConn struct {
	net.Conn
	user     peercred.User
	err      error  // the owner lookup's error, if it failed
	release  func() // gives back the listener's slot and the user's
	once     sync.Once
	accepted time.Time
	// table tracks the connection once it is served. state is what it
	// is doing (see phaseNew); seen is the state its sweep last saw, first
	// at seenAt, both the sweep's own.
	table  *connTable
	state  atomic.Uint64
	seen   uint64
	seenAt time.Time
}

// Read reads from the connection and tells its table that bytes came.
func (c *ownedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.table != nil {
		c.table.bytesCame(c)
	}
	return n, err
}

// Close closes the connection and gives back its slots.
func (c *ownedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Accept returns the next admitted connection, once fewer than the
// listener's limit are open.
func (l *admitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		free := func() { <-l.slots }
		c, err := l.Listener.Accept()
		if err != nil {
			free()
			return nil, err
		}
		u, err := l.g.peerOwner(c)
		oc := &ownedConn{Conn: c, user: u, err: err, release: free, accepted: time.Now()}
		switch {
		case err != nil:
			// Admitted; the Guard refuses its request, logs why and
			// closes it.
			return oc, nil
		case l.g.self != nil && u != *l.g.self:
			no := ownerRefusal(*l.g.self, u, nil)
			no.reason += " (turned away on connect)"
			l.turnAway(oc, u, no)
			continue
		case l.g.conns.max > 0:
			if !l.g.conns.acquire(u.ID) {
				l.turnAway(oc, u, refused(http.StatusServiceUnavailable, api.CodeBusy, "more than "+strconv.Itoa(l.g.conns.max)+" connections from "+u.String(), "too many connections from your user"))
				continue
			}
			oc.release = func() { l.g.conns.release(u.ID); free() }
		}
		return oc, nil
	}
}

// Close stops the listener; an Accept waiting for a slot returns. Only the
// first call closes it (the stop closes it before Shutdown does), so a
// later one is not an error.
func (l *admitListener) Close() error {
	var err error
	l.closing.Do(func() {
		err = l.Listener.Close()
		close(l.done)
	})
	return err
}

// acquire counts one more connection of id, unless it has max already.
func (u *userConns) acquire(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.perID[id] >= u.max {
		return false
	}
	u.perID[id]++
	return true
}

// release counts one connection of id fewer.
func (u *userConns) release(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.perID[id]--; u.perID[id] <= 0 {
		delete(u.perID, id)
	}
}

// turnAwayWait bounds writing the refusal to a turned-away connection.
const turnAwayWait = time.Second

// turnAway answers a connection that is not admitted with an API error and
// closes it, off the accept loop; the refusal is logged as the Guard's are.
func (l *admitListener) turnAway(oc *ownedConn, u peercred.User, no *refusal) {
	c := oc.Conn
	if l.g.refusals.allow(refusalKey{caller: u.ID, code: no.code}) {
		l.g.log.WithLevel(no.level).
			Str("code", string(no.code)).
			Str("reason", no.reason).
			Str("remote", c.RemoteAddr().String()).
			Msg("refused connection")
	}
	go func() {
		// Answer the request, as a client expects, once its head has
		// come (or after turnAwayWait); an answer before the request
		// confuses HTTP clients that reuse connections.
		_ = c.SetReadDeadline(time.Now().Add(turnAwayWait))
		head := readHead(c)
		if l.g.onRefuse != nil {
			rf := requestOf(head)
			rf.Time, rf.Code, rf.Reason, rf.Caller = time.Now(), no.code, no.reason, u.ID
			l.g.onRefuse(rf)
		}
		b, _ := json.Marshal(api.ErrorBody{Error: api.Error{Code: no.code, Message: no.message}}) // cannot fail
		body := string(b) + "\n"
		_ = c.SetWriteDeadline(time.Now().Add(turnAwayWait))
		_, _ = c.Write([]byte("HTTP/1.1 " + strconv.Itoa(no.status) + " " + http.StatusText(no.status) + "\r\n" +
			"Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		_ = oc.Close()
	}()
}

// maxTurnAwayHead bounds what is read of a turned-away request.
const maxTurnAwayHead = 8 << 10

// readHead reads from c until the end of a request head (a blank line), an
// error or maxTurnAwayHead bytes, and returns what it read.
func readHead(c net.Conn) []byte {
	var buf [1024]byte
	var seen []byte
	for len(seen) < maxTurnAwayHead {
		n, err := c.Read(buf[:])
		seen = append(seen, buf[:n]...)
		if bytes.Contains(seen, []byte("\r\n\r\n")) || err != nil {
			break
		}
	}
	return seen
}

// requestOf picks the method, path (without its query), Host and Origin
// out of a request head read by readHead; what is missing or cut short
// stays "".
func requestOf(head []byte) Refusal {
	var rf Refusal
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(head)
	}
	lines := strings.Split(string(head[:end]), "\r\n")
	if f := strings.Fields(lines[0]); len(f) == 3 && strings.HasPrefix(f[2], "HTTP/") {
		rf.Method = f[0]
		rf.Path, _, _ = strings.Cut(f[1], "?")
	}
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "origin":
			rf.Origin = strings.TrimSpace(value)
		case "host":
			rf.Host = strings.TrimSpace(value)
		}
	}
	return rf
}
