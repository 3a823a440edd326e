package localhttp

import (
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
)

// Refusal logging limits: for each caller and error code, the first
// refusalBurst refusals of an interval are logged in full; the rest are
// counted and told in one summary line when the interval ends. A flood of
// refused requests (from another user, or from any page with a bad Origin)
// thus writes a few lines a minute instead of rotating the log's history
// away in seconds.
const (
	refusalBurst    = 5
	refusalInterval = time.Minute
	// maxRefusalKeys bounds the callers and codes tracked at once; past
	// it, new ones share one key.
	maxRefusalKeys = 1024
)

// refusalKey is what refusals are counted by.
type refusalKey struct {
	caller string // the caller's OS user, or "unidentified"
	code   api.Code
}

// refusalCount is one key's interval.
type refusalCount struct {
	start      time.Time
	logged     int
	suppressed int
	summary    *time.Timer // pending summary line, once something was suppressed
}

// refusalLog decides which refusals are logged in full.
type refusalLog struct {
	log   zerolog.Logger
	burst int
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	keys map[refusalKey]*refusalCount
}

func newRefusalLog(log zerolog.Logger) *refusalLog {
	return &refusalLog{log: log, burst: refusalBurst, every: refusalInterval, now: time.Now, keys: map[refusalKey]*refusalCount{}}
}

// allow reports whether a refusal for k is to be logged in full; when it
// is not, it is counted for the interval's summary line.
func (l *refusalLog) allow(k refusalKey) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.keys[k]
	if c == nil {
		if len(l.keys) >= maxRefusalKeys {
			k.caller = "others"
			c = l.keys[k]
		}
		if c == nil {
			c = &refusalCount{start: now}
			l.keys[k] = c
		}
	}
	if c.summary == nil && now.Sub(c.start) >= l.every {
		*c = refusalCount{start: now} // a new interval
	}
	if c.logged < l.burst {
		c.logged++
		return true
	}
	c.suppressed++
	if c.summary == nil {
		c.summary = time.AfterFunc(c.start.Add(l.every).Sub(now), func() { l.flush(k) })
	}
	return false
}

// flush writes k's summary line and ends its interval.
func (l *refusalLog) flush(k refusalKey) {
	l.mu.Lock()
	c := l.keys[k]
	delete(l.keys, k)
	l.mu.Unlock()
	if c == nil || c.suppressed == 0 {
		return
	}
	l.log.Warn().
		Str("code", string(k.code)).
		Str("caller", k.caller).
		Int("refused", c.suppressed).
		Dur("interval", l.every).
		Msg("more refused requests like the ones above, not logged one by one")
}
