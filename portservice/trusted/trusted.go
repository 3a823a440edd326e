// Package trusted keeps the port service's DomainList current from the
// trusted URL an administrator configures with --trusted-url. Every few hours
// a Refresher fetches <url>/api/versioninfo and <url>/api/domainlist, hands a
// changed list to the port service, and remembers what the URL last said so
// that versioninfo and `cardbridge doctor` can report it. A failed fetch never
// replaces the list in force.
package trusted

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
)

// Defaults for the zero values in Options.
const (
	DefaultInterval = 4 * time.Hour    // between checks
	DefaultRetry    = 15 * time.Minute // first wait after a failed check
	DefaultTimeout  = 60 * time.Second // for one check
)

// defaultStartDelay is the middle of the wait before Run's first check, which
// falls between half and one and a half times it.
const defaultStartDelay = 2 * time.Second

// Options configures a Refresher.
type Options struct {
	// URL is the base URL; it must be https, or http for a loopback host.
	URL string
	// Client makes the requests. nil: a client with a 30 s overall timeout
	// that follows at most 3 redirects, all to the same scheme, host and port,
	// verifies TLS and takes its proxy from the environment. A client without
	// a CheckRedirect gets that redirect rule too.
	Client *http.Client
	// Interval is the time between checks, jittered by ±10%; default 4 h.
	Interval time.Duration
	// Retry is the first wait after a failed check, doubling with each
	// further failure up to Interval; default 15 min.
	Retry time.Duration
	// Timeout bounds each check, both requests together; default 60 s.
	Timeout time.Duration
	// Logger receives failures at Warn, each bad line of a fetched list at
	// Warn, a new list at Info and the rest at Debug.
	Logger zerolog.Logger
	// OnList receives a fetched list that differs (by its canonical Format,
	// which includes the version) from the one in force; raw is the fetched
	// text. It is called by the goroutine running the check, never by two at
	// once.
	OnList func(list *domainlist.List, raw []byte)
	// Current returns the list in force, to compare with. nil: the last list
	// given to OnList.
	Current func() *domainlist.List
	// Now tells the time for Status; nil: time.Now.
	Now func() time.Time
}

// Status is what the trusted URL last said and how the last check went.
type Status struct {
	URL               string    // the trusted URL, without a trailing "/"
	LatestVersion     string    // from the last versioninfo that could be read
	DomainListVersion string    // likewise; "" when the URL does not name one
	Checked           time.Time // end of the last check (zero: never checked)
	LastSuccess       time.Time // end of the last check that succeeded
	Err               error     // the last check's error, nil if it succeeded
}

// Refresher fetches the trusted URL on a schedule or on demand. Its methods
// are safe for concurrent use.
type Refresher struct {
	base     *url.URL
	client   *http.Client
	interval time.Duration
	retry    time.Duration
	timeout  time.Duration
	log      zerolog.Logger
	onList   func(*domainlist.List, []byte)
	current  func() *domainlist.List
	now      func() time.Time

	startDelay time.Duration // Run's first wait is 0.5 to 1.5 times this

	sem       chan struct{}    // held by the one check running
	delivered *domainlist.List // the last list given to OnList; guarded by sem

	mu     sync.Mutex
	status Status
}

// New returns a Refresher for opt, or an error saying why opt is unusable.
func New(opt Options) (*Refresher, error) {
	base, err := parseBaseURL(opt.URL)
	if err != nil {
		return nil, err
	}
	r := &Refresher{
		base:       base,
		client:     opt.Client,
		interval:   opt.Interval,
		retry:      opt.Retry,
		timeout:    opt.Timeout,
		log:        opt.Logger.With().Str("trustedUrl", base.String()).Logger(),
		onList:     opt.OnList,
		current:    opt.Current,
		now:        opt.Now,
		startDelay: defaultStartDelay,
		sem:        make(chan struct{}, 1),
		status:     Status{URL: base.String()},
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"interval", &r.interval, DefaultInterval}, {"retry", &r.retry, DefaultRetry}, {"timeout", &r.timeout, DefaultTimeout}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("trusted url: %s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	r.retry = min(r.retry, r.interval)
	if r.client == nil {
		r.client = defaultClient()
	} else if r.client.CheckRedirect == nil {
		c := *r.client
		c.CheckRedirect = checkRedirect
		r.client = &c
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Run checks the trusted URL a few seconds after it starts and then every
// Interval, sooner after a failure, until ctx is done; it returns ctx.Err().
func (r *Refresher) Run(ctx context.Context) error {
	first := r.startDelay/2 + time.Duration(rand.Int64N(int64(r.startDelay)+1))
	t := time.NewTimer(first)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		err := r.CheckNow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failures++
		} else {
			failures = 0
		}
		wait := jitter(r.nextWait(failures))
		r.log.Debug().Dur("wait", wait).Msg("trusted url: next check scheduled")
		t.Reset(wait)
	}
}

// nextWait is the time from a check to the next one after the given number
// of failed checks in a row: Interval after a success, else Retry doubled for
// each failure after the first, at most Interval.
func (r *Refresher) nextWait(failures int) time.Duration {
	if failures <= 0 {
		return r.interval
	}
	d := r.retry
	for i := 1; i < failures && d < r.interval; i++ {
		d *= 2
	}
	return min(d, r.interval)
}

// jitter returns d moved by a random amount of at most 10% either way.
func jitter(d time.Duration) time.Duration {
	spread := int64(d / 10)
	if spread <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*spread+1)-spread)
}

// CheckNow fetches the trusted URL once, within Timeout, waiting for a check
// already running to finish first. It records the outcome in Status, logs a
// failure and returns it.
func (r *Refresher) CheckNow(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check trusted url: %w", err)
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("check trusted url: %w", ctx.Err())
	}
	defer func() { <-r.sem }()

	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	vi, err := r.check(actx)

	now := r.now()
	r.mu.Lock()
	if vi != nil {
		r.status.LatestVersion = vi.LatestVersion
		r.status.DomainListVersion = vi.DomainListVersion
	}
	r.status.Checked = now
	r.status.Err = err
	if err == nil {
		r.status.LastSuccess = now
	}
	r.mu.Unlock()

	if err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Msg("trusted url: check failed; keeping the domain list in force")
	}
	return err
}

// Status returns what the trusted URL last said and how the last check went.
func (r *Refresher) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// check makes one attempt. It returns the versioninfo whenever that was read,
// even when fetching the list then failed.
func (r *Refresher) check(ctx context.Context) (*versionInfo, error) {
	vi, err := r.fetchVersionInfo(ctx)
	if err != nil {
		return nil, err
	}
	cur := r.inForce()
	if vi.DomainListVersion != "" && cur.Len() > 0 && cur.Version() == vi.DomainListVersion {
		r.log.Debug().Str("version", cur.Version()).Msg("trusted url: domain list is current")
		return vi, nil
	}
	raw, err := r.fetchList(ctx)
	if err != nil {
		return vi, err
	}
	list, err := r.parseList(raw, vi.DomainListVersion)
	if err != nil {
		return vi, err
	}
	if bytes.Equal(list.Format(), cur.Format()) {
		r.log.Debug().Str("version", list.Version()).Msg("trusted url: fetched domain list is the one in force")
		return vi, nil
	}
	r.log.Info().Str("version", list.Version()).Str("was", cur.Version()).Int("entries", list.Len()).
		Msg("trusted url: new domain list")
	if r.onList != nil {
		r.onList(list, raw)
	}
	r.delivered = list
	return vi, nil
}

// inForce returns the list to compare a fetched one with, never nil.
func (r *Refresher) inForce() *domainlist.List {
	l := r.delivered
	if r.current != nil {
		l = r.current()
	}
	if l == nil {
		return domainlist.Empty()
	}
	return l
}

// UpdateAvailable reports whether LatestVersion is a newer release than
// running, comparing dotted numbers (1.10.0 > 1.9.3; 1.4.2-dev < 1.4.2). It is
// false when either version does not parse.
func (s Status) UpdateAvailable(running string) bool {
	latest, ok := parseVersion(s.LatestVersion)
	if !ok {
		return false
	}
	cur, ok := parseVersion(running)
	if !ok {
		return false
	}
	return compareVersions(latest, cur) > 0
}
