package trusted

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

const (
	goodInfo = `{"latestVersion":"1.4.2","domainListVersion":"2026-11-01"}`
	goodList = "# version: 2026-11-01\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"
)

// site is a fake trusted URL on 127.0.0.1 that counts its requests.
type site struct {
	url      string
	info     atomic.Int32 // requests for /api/versioninfo
	list     atomic.Int32 // requests for /api/domainlist
	inFlight atomic.Int32
	maxIn    atomic.Int32 // most requests handled at once
}

// serve starts a fake trusted URL answering versioninfo and domainlist with
// the given handlers, and any other path with mux (which may be nil).
func serve(t *testing.T, info, list http.HandlerFunc, mux *http.ServeMux) *site {
	t.Helper()
	s := &site{}
	if mux == nil {
		mux = http.NewServeMux()
	}
	track := func(n *atomic.Int32, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			in := s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			for {
				m := s.maxIn.Load()
				if in <= m || s.maxIn.CompareAndSwap(m, in) {
					break
				}
			}
			h(w, r)
		}
	}
	mux.HandleFunc("/api/versioninfo", track(&s.info, info))
	mux.HandleFunc("/api/domainlist", track(&s.list, list))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// body answers with status 200, the content type and the text.
func body(ctype, text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		boundWrites(w)
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write([]byte(text))
	}
}

// boundWrites ends a handler's writes after 5 s. The Refresher stops
// reading a body at its size limit; where closing a socket with unread data
// does not reset it (Wine), the handler's writes would otherwise block for
// good, and the test server's Close with them.
func boundWrites(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Second))
}

func jsonBody(text string) http.HandlerFunc { return body("application/json", text) }
func textBody(text string) http.HandlerFunc { return body("text/plain; charset=utf-8", text) }

// sink plays the port service: it holds the list in force and counts the
// lists the Refresher hands it.
type sink struct {
	mu    sync.Mutex
	list  *domainlist.List
	raw   []byte
	calls int
}

func (s *sink) onList(l *domainlist.List, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list, s.raw = l, raw
	s.calls++
}

func (s *sink) current() *domainlist.List {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list
}

func (s *sink) get() (*domainlist.List, []byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list, s.raw, s.calls
}

// newRefresher returns a Refresher for url that delivers to sk, after edit
// has adjusted its options.
func newRefresher(t *testing.T, url string, sk *sink, edit func(*Options)) (*Refresher, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	opt := Options{
		URL:     url,
		Logger:  zerolog.New(logs),
		OnList:  sk.onList,
		Current: sk.current,
		Timeout: 10 * time.Second,
	}
	if edit != nil {
		edit(&opt)
	}
	r, err := New(opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, logs
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func patternStrings(l *domainlist.List) []string {
	var s []string
	for _, p := range l.Patterns() {
		s = append(s, p.String())
	}
	return s
}

func mustParse(t *testing.T, text string) *domainlist.List {
	t.Helper()
	l, errs := domainlist.Parse([]byte(text))
	if len(errs) > 0 {
		t.Fatalf("Parse(%q): %v", text, errs)
	}
	return l
}

// TestCheckNowSuccess: a good answer is delivered once with its entries and
// version, Status reports it, and a second check with the same
// domainListVersion does not fetch the list again.
func TestCheckNowSuccess(t *testing.T) {
	s := serve(t, jsonBody(goodInfo), textBody(goodList), nil)
	sk := &sink{}
	fixed := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r, _ := newRefresher(t, s.url, sk, func(o *Options) { o.Now = func() time.Time { return fixed } })

	if st := r.Status(); !st.Checked.IsZero() || st.Err != nil || st.URL != s.url {
		t.Fatalf("Status before any check = %+v", st)
	}
	if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("CheckNow: %v", err)
	}
	list, raw, calls := sk.get()
	if calls != 1 {
		t.Fatalf("OnList called %d times, want 1", calls)
	}
	if got, want := strings.Join(patternStrings(list), " "), "https://my.esr.nhs.uk https://*.spineservices.nhs.uk"; got != want {
		t.Errorf("entries = %q, want %q", got, want)
	}
	if list.Version() != "2026-11-01" {
		t.Errorf("version = %q, want 2026-11-01", list.Version())
	}
	if string(raw) != goodList {
		t.Errorf("raw = %q, want the fetched text", raw)
	}
	st := r.Status()
	if st.Err != nil || st.LatestVersion != "1.4.2" || st.DomainListVersion != "2026-11-01" ||
		!st.Checked.Equal(fixed) || !st.LastSuccess.Equal(fixed) {
		t.Errorf("Status = %+v", st)
	}
	if !st.UpdateAvailable("1.4.1") || st.UpdateAvailable("1.4.2") {
		t.Errorf("UpdateAvailable wrong for latest %q", st.LatestVersion)
	}

	if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("second CheckNow: %v", err)
	}
	if s.info.Load() != 2 || s.list.Load() != 1 {
		t.Errorf("requests: versioninfo %d, domainlist %d; want 2 and 1", s.info.Load(), s.list.Load())
	}
	if _, _, calls := sk.get(); calls != 1 {
		t.Errorf("OnList called %d times after the second check, want 1", calls)
	}
}

// TestUnchangedListNotDelivered: without a domainListVersion the list is
// fetched every time, but a list equal to the one in force is not delivered.
func TestUnchangedListNotDelivered(t *testing.T) {
	s := serve(t, jsonBody(`{"latestVersion":"1.0.0"}`), textBody("https://my.esr.nhs.uk\n# comment\nhttps://my.esr.nhs.uk\n"), nil)
	sk := &sink{list: mustParse(t, "https://MY.esr.nhs.uk:443\n")}
	r, _ := newRefresher(t, s.url, sk, nil)
	for i := range 2 {
		if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("CheckNow %d: %v", i, err)
		}
	}
	if s.list.Load() != 2 {
		t.Errorf("domainlist fetched %d times, want 2", s.list.Load())
	}
	if _, _, calls := sk.get(); calls != 0 {
		t.Errorf("OnList called %d times for an unchanged list, want 0", calls)
	}
}

// TestCurrentNilUsesLastDelivered: without Options.Current the Refresher
// compares with the last list it delivered.
func TestCurrentNilUsesLastDelivered(t *testing.T) {
	s := serve(t, jsonBody(goodInfo), textBody(goodList), nil)
	sk := &sink{}
	r, _ := newRefresher(t, s.url, sk, func(o *Options) { o.Current = nil })
	for i := range 3 {
		if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("CheckNow %d: %v", i, err)
		}
	}
	if _, _, calls := sk.get(); calls != 1 || s.list.Load() != 1 {
		t.Errorf("OnList calls %d, list fetches %d; want 1 and 1", calls, s.list.Load())
	}
}

// TestServerDown: a refused connection is reported in Status and the cached
// list is kept.
func TestServerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()

	cached := mustParse(t, goodList)
	sk := &sink{list: cached}
	r, logs := newRefresher(t, url, sk, nil)
	start := time.Now()
	err := r.CheckNow(ctxFor(t, 10*time.Second))
	if err == nil {
		t.Fatal("CheckNow succeeded against a closed port")
	}
	if !strings.HasPrefix(err.Error(), "fetch versioninfo: ") {
		t.Errorf("error %q does not name the operation", err)
	}
	st := r.Status()
	if st.Err == nil || st.Checked.IsZero() || !st.LastSuccess.IsZero() || st.LatestVersion != "" {
		t.Errorf("Status = %+v", st)
	}
	if st.Checked.Before(start.Add(-time.Second)) {
		t.Errorf("Checked = %v, before the check started", st.Checked)
	}
	if l, _, calls := sk.get(); calls != 0 || l != cached {
		t.Errorf("OnList called %d times; list in force changed: %v", calls, l != cached)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("failure not logged at warn: %s", logs)
	}
}

// hang answers after 5 s, or when the client goes away.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// TestSlowServer: a server that does not answer costs the client's timeout
// or the check's timeout, whichever is shorter, and then fails the check.
func TestSlowServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"client timeout", func(o *Options) { o.Client = &http.Client{Timeout: 200 * time.Millisecond} }},
		{"check timeout", func(o *Options) { o.Timeout = 200 * time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, slow := range []string{"versioninfo", "domainlist"} {
				info, list := jsonBody(goodInfo), textBody(goodList)
				if slow == "versioninfo" {
					info = hang
				} else {
					list = hang
				}
				s := serve(t, info, list, nil)
				sk := &sink{}
				r, _ := newRefresher(t, s.url, sk, tc.edit)
				start := time.Now()
				err := r.CheckNow(ctxFor(t, 10*time.Second))
				if elapsed := time.Since(start); elapsed > 3*time.Second {
					t.Errorf("slow %s: CheckNow took %v", slow, elapsed)
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("slow %s: err = %v, want a timeout", slow, err)
				}
				if _, _, calls := sk.get(); calls != 0 {
					t.Errorf("slow %s: OnList called", slow)
				}
				if st := r.Status(); st.Err == nil {
					t.Errorf("slow %s: Status.Err not set", slow)
				}
			}
		})
	}
}

// TestBadVersionInfo: answers that are not a usable versioninfo fail the
// check before the list is fetched, without reading more than the cap.
func TestBadVersionInfo(t *testing.T) {
	huge := func(w http.ResponseWriter, r *http.Request) {
		boundWrites(w)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"latestVersion":"`))
		chunk := bytes.Repeat([]byte("9"), 1<<20)
		for range 10 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}`))
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error // nil: any error
	}{
		{"not JSON", jsonBody("latestVersion=1.4.2"), errNotObject},
		{"JSON array", jsonBody(`["1.4.2"]`), errNotObject},
		{"JSON string", jsonBody(`"1.4.2"`), errNotObject},
		{"JSON null", jsonBody(`null`), errNotObject},
		{"trailing garbage", jsonBody(goodInfo + "x"), errNotObject},
		{"empty body", jsonBody(""), errNotObject},
		{"HTML", body("text/html", "<html><body>Sign in to the proxy</body></html>"), errNotObject},
		{"status 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(goodInfo))
		}, nil},
		{"status 404", http.NotFound, nil},
		{"10 MB body", huge, errTooLarge},
		{"latestVersion a number", jsonBody(`{"latestVersion":142}`), nil},
		{"domainListVersion an object", jsonBody(`{"latestVersion":"1.4.2","domainListVersion":{}}`), nil},
		{"no latestVersion", jsonBody(`{"domainListVersion":"2026-11-01"}`), errNoLatest},
		{"latestVersion null", jsonBody(`{"latestVersion":null}`), errNoLatest},
		{"control character", jsonBody(`{"latestVersion":"1.4.2\n# evil"}`), nil},
		{"version too long", jsonBody(`{"latestVersion":"` + strings.Repeat("1", 300) + `"}`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.handler, textBody(goodList), nil)
			cached := mustParse(t, "https://my.esr.nhs.uk\n")
			sk := &sink{list: cached}
			r, _ := newRefresher(t, s.url, sk, nil)
			err := r.CheckNow(ctxFor(t, 10*time.Second))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckNow = %v, want %v", err, tc.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "fetch versioninfo: ") && !strings.HasPrefix(msg, "parse versioninfo: ") {
				t.Errorf("error %q does not name the operation", msg)
			}
			if s.list.Load() != 0 {
				t.Error("domain list fetched after a bad versioninfo")
			}
			if l, _, calls := sk.get(); calls != 0 || l != cached {
				t.Error("list in force replaced")
			}
			if st := r.Status(); st.Err == nil || st.LatestVersion != "" {
				t.Errorf("Status = %+v", st)
			}
		})
	}
}

// TestVersionInfoExtras: other members and a BOM are ignored, values are
// trimmed, and a missing domainListVersion is fine.
func TestVersionInfoExtras(t *testing.T) {
	vi, err := parseVersionInfo([]byte("\ufeff" + `{"product":"x","api":1,"latestVersion":" 1.4.2 ","nested":{"a":[1,2]}}`))
	if err != nil || vi.LatestVersion != "1.4.2" || vi.DomainListVersion != "" {
		t.Errorf("parseVersionInfo = %+v, %v", vi, err)
	}
}

// TestRejectedLists: lists that are HTML, empty, mostly bad or too large are
// refused, the list in force is kept, and the versioninfo is still reported.
func TestRejectedLists(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"HTML page", textBody("\r\n  <!DOCTYPE html><html><body>https://my.esr.nhs.uk</body></html>"), errNotDomainList},
		{"HTML content type", body("text/html; charset=utf-8", "https://my.esr.nhs.uk\n"), errNotDomainList},
		{"XHTML content type", body("application/xhtml+xml", "https://my.esr.nhs.uk\n"), errNotDomainList},
		{"HTML after a BOM", textBody("\ufeff<html>"), errNotDomainList},
		{"empty", textBody(""), errNoEntries},
		{"only comments", textBody("# version: 2026-11-02\n# nothing yet\n\n"), errNoEntries},
		{"mostly bad", textBody("# version: 2026-11-02\nhttps://my.esr.nhs.uk\nnot a pattern\nftp://files.nhs.uk\n*\n"), errCorrupt},
		{"all bad", textBody("hello\nworld\n"), errCorrupt},
		{"binary", textBody("\x00\x01\x02\xff\xfe\n\x7f"), errCorrupt},
		{"over 1 MiB", textBody(strings.Repeat("# padding to make the file large\n", (1<<20)/32+1)), errTooLarge},
		{"status 503", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, jsonBody(goodInfo), tc.handler, nil)
			cached := mustParse(t, "# version: 2026-10-01\nhttps://my.esr.nhs.uk\n")
			sk := &sink{list: cached}
			r, _ := newRefresher(t, s.url, sk, nil)
			err := r.CheckNow(ctxFor(t, 10*time.Second))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckNow = %v, want %v", err, tc.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "fetch domain list: ") && !strings.HasPrefix(msg, "parse domain list: ") {
				t.Errorf("error %q does not name the operation", msg)
			}
			if l, _, calls := sk.get(); calls != 0 || l != cached {
				t.Error("list in force replaced")
			}
			st := r.Status()
			if st.Err == nil || !st.LastSuccess.IsZero() || st.LatestVersion != "1.4.2" || st.DomainListVersion != "2026-11-01" {
				t.Errorf("Status = %+v", st)
			}
		})
	}
}

// TestSomeBadLinesAccepted: a list with bad lines but no more than half is
// used, and each bad line is logged at warn.
func TestSomeBadLinesAccepted(t *testing.T) {
	text := "# version: 2026-11-02\nhttps://my.esr.nhs.uk\nnot a pattern # note\nhttps://*.spineservices.nhs.uk\nhttps://*.uk\n"
	s := serve(t, jsonBody(goodInfo), textBody(text), nil)
	sk := &sink{}
	r, logs := newRefresher(t, s.url, sk, nil)
	if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("CheckNow: %v", err)
	}
	l, _, calls := sk.get()
	if calls != 1 || l.Len() != 2 || l.Version() != "2026-11-02" {
		t.Fatalf("delivered %d lists; last has %d entries, version %q", calls, l.Len(), l.Version())
	}
	out := logs.String()
	for _, want := range []string{`"line":3,`, `"line":5,`} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not mention %q: %s", want, out)
		}
	}
	if n := strings.Count(out, `"level":"warn"`); n != 2 {
		t.Errorf("%d warnings logged, want 2: %s", n, out)
	}
}

// TestVersionFromVersionInfo: a list without a version line gets
// versioninfo's domainListVersion; a list with one keeps its own.
func TestVersionFromVersionInfo(t *testing.T) {
	t.Run("list without version", func(t *testing.T) {
		text := "\ufeff\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"
		s := serve(t, jsonBody(goodInfo), textBody(text), nil)
		sk := &sink{}
		r, _ := newRefresher(t, s.url, sk, nil)
		if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("CheckNow: %v", err)
		}
		l, raw, calls := sk.get()
		if calls != 1 || l.Version() != "2026-11-01" || l.Len() != 2 || string(raw) != text {
			t.Fatalf("delivered %d lists; version %q, %d entries, raw %q", calls, l.Version(), l.Len(), raw)
		}
		if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("second CheckNow: %v", err)
		}
		if s.list.Load() != 1 {
			t.Errorf("list fetched %d times, want 1 (the version now matches)", s.list.Load())
		}
	})
	t.Run("list with its own version", func(t *testing.T) {
		s := serve(t, jsonBody(goodInfo), textBody("# version: 7\nhttps://my.esr.nhs.uk\n"), nil)
		sk := &sink{}
		r, _ := newRefresher(t, s.url, sk, nil)
		if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("CheckNow: %v", err)
		}
		if l, _, _ := sk.get(); l.Version() != "7" {
			t.Errorf("version = %q, want the list's own 7", l.Version())
		}
	})
}

// TestRedirects: redirects within the trusted URL's host are followed, up to
// three; a redirect anywhere else is refused before connecting.
func TestRedirects(t *testing.T) {
	other := serve(t, jsonBody(goodInfo), textBody(goodList), nil)

	hops := func(limit int) *http.ServeMux {
		mux := http.NewServeMux()
		mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
			var n int
			_, _ = fmt.Sscan(r.PathValue("n"), &n)
			if n < limit {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", n+1), http.StatusFound)
				return
			}
			_, _ = w.Write([]byte(goodInfo))
		})
		return mux
	}
	redirectTo := func(target func(*http.Request) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target(r), http.StatusFound)
		}
	}
	for _, tc := range []struct {
		name   string
		info   http.HandlerFunc
		mux    *http.ServeMux
		client *http.Client
		want   error // nil: success
	}{
		{"three hops on the same host", redirectTo(func(*http.Request) string { return "/hop/1" }), hops(3), nil, nil},
		{"four hops", redirectTo(func(*http.Request) string { return "/hop/1" }), hops(4), nil, errTooManyHops},
		{"other port", redirectTo(func(*http.Request) string { return other.url + "/api/versioninfo" }), nil, nil, errOtherHost},
		{"other host name", redirectTo(func(r *http.Request) string {
			_, port, _ := net.SplitHostPort(r.Host)
			return "http://localhost:" + port + "/hop/3"
		}), hops(3), nil, errOtherHost},
		{"other port, caller's client", redirectTo(func(*http.Request) string { return other.url + "/api/versioninfo" }), nil,
			&http.Client{Timeout: 5 * time.Second}, errOtherHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.info, textBody(goodList), tc.mux)
			sk := &sink{}
			r, _ := newRefresher(t, s.url, sk, func(o *Options) { o.Client = tc.client })
			before := other.info.Load()
			err := r.CheckNow(ctxFor(t, 10*time.Second))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckNow: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CheckNow = %v, want %v", err, tc.want)
			}
			if other.info.Load() != before {
				t.Error("the other host was contacted")
			}
			if _, _, calls := sk.get(); calls != 0 {
				t.Error("OnList called")
			}
		})
	}
}

// TestNew: New accepts https and loopback http URLs and refuses the rest,
// saying why.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // "" to accept; else a part of the error
	}{
		{"https://trusted.example.nhs.uk", ""},
		{"https://trusted.example.nhs.uk/cardbridge/", ""},
		{"HTTPS://Trusted.Example.nhs.uk:8443", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://127.1.2.3", ""},
		{"http://[::1]:8080", ""},
		{"http://localhost:8080/base", ""},
		{"http://example.com", "only for a loopback host"},
		{"http://192.168.1.10", "only for a loopback host"},
		{"http://[::ffff:10.0.0.1]", "only for a loopback host"},
		{"ftp://trusted.example.nhs.uk/", "scheme must be https"},
		{"file:///etc/cardbridge", "scheme must be https"},
		{"trusted.example.nhs.uk", "scheme must be https"},
		{"", "no url"},
		{"https://", "no host"},
		{"https:trusted.example.nhs.uk", "no host"},
		{"https://:443", "no host"},
		{"https://user:secret@trusted.example.nhs.uk", "user name or password"},
		{"https://trusted.example.nhs.uk/?v=1", "query or fragment"},
		{"https://trusted.example.nhs.uk/#x", "query or fragment"},
		{"https://trusted.example.nhs.uk:99999", "bad port"},
		{"https://trusted example", "trusted url"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r, err := New(Options{URL: tc.url})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if strings.HasSuffix(r.Status().URL, "/") {
					t.Errorf("Status.URL %q keeps a trailing slash", r.Status().URL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	for _, o := range []Options{
		{URL: "https://x.nhs.uk", Interval: -time.Second},
		{URL: "https://x.nhs.uk", Retry: -time.Second},
		{URL: "https://x.nhs.uk", Timeout: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted a negative duration", o)
		}
	}
}

// TestRequestURLs: the base URL's path is kept and the Accept header set.
func TestRequestURLs(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/base/api/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Accept"))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/versioninfo") {
			_, _ = w.Write([]byte(goodInfo))
			return
		}
		_, _ = w.Write([]byte(goodList))
	})
	s := serve(t, http.NotFound, http.NotFound, mux)
	sk := &sink{}
	r, _ := newRefresher(t, s.url+"/base/", sk, nil)
	if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("CheckNow: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(seen, ", "), "/base/api/versioninfo application/json, /base/api/domainlist text/plain"; got != want {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

// TestRunChecksPromptlyThenWaits: Run checks soon after starting, waits about
// Interval before the next check, and returns ctx.Err() when cancelled.
func TestRunChecksPromptlyThenWaits(t *testing.T) {
	checks := make(chan time.Time, 100)
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		checks <- time.Now()
		jsonBody(goodInfo)(w, r)
	}, textBody(goodList), nil)
	sk := &sink{}
	const interval = 300 * time.Millisecond
	r, _ := newRefresher(t, s.url, sk, func(o *Options) { o.Interval = interval })
	r.startDelay = 20 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(ctx) }()

	next := func(what string) time.Time {
		select {
		case at := <-checks:
			return at
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s check within 5 s", what)
			return time.Time{}
		}
	}
	first := next("first")
	if d := first.Sub(start); d > 2*time.Second {
		t.Errorf("first check after %v", d)
	}
	second := next("second")
	if gap := second.Sub(first); gap < interval*9/10 {
		t.Errorf("second check %v after the first, want at least %v", gap, interval*9/10)
	}
	if _, _, calls := sk.get(); calls != 1 {
		t.Errorf("OnList called %d times, want 1", calls)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestRunRetriesSoonerAfterFailure: after failures Run retries after Retry,
// doubling, long before Interval.
func TestRunRetriesSoonerAfterFailure(t *testing.T) {
	checks := make(chan time.Time, 100)
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		checks <- time.Now()
		http.Error(w, "down", http.StatusBadGateway)
	}, textBody(goodList), nil)
	const retry = 20 * time.Millisecond
	r, _ := newRefresher(t, s.url, &sink{}, func(o *Options) {
		o.Interval = time.Hour
		o.Retry = retry
	})
	r.startDelay = 10 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()

	var at []time.Time
	for len(at) < 4 {
		select {
		case c := <-checks:
			at = append(at, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d checks within 5 s of each other; retries are not sooner than Interval", len(at))
		}
	}
	for i := 1; i < len(at); i++ {
		want := retry << (i - 1) * 9 / 10
		if gap := at[i].Sub(at[i-1]); gap < want {
			t.Errorf("retry %d after %v, want at least %v", i, gap, want)
		}
	}
	if st := r.Status(); st.Err == nil {
		t.Error("Status.Err not set")
	}
}

// TestNextWait: the wait doubles from Retry with each failure, up to
// Interval, and is Interval after a success.
func TestNextWait(t *testing.T) {
	r, err := New(Options{URL: "https://x.nhs.uk"})
	if err != nil {
		t.Fatal(err)
	}
	for failures, want := range []time.Duration{4 * time.Hour, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
		if got := r.nextWait(failures); got != want {
			t.Errorf("nextWait(%d) = %v, want %v", failures, got, want)
		}
	}
	if got := r.nextWait(1000); got != 4*time.Hour {
		t.Errorf("nextWait(1000) = %v", got)
	}
	r, err = New(Options{URL: "https://x.nhs.uk", Interval: time.Minute, Retry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.nextWait(1); got != time.Minute {
		t.Errorf("Retry above Interval: nextWait(1) = %v, want 1m", got)
	}
}

// TestJitter: waits move by at most 10% and do vary.
func TestJitter(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := jitter(100 * time.Second)
		if d < 90*time.Second || d > 110*time.Second {
			t.Fatalf("jitter(100s) = %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("jitter gave only %d distinct waits in 1000", len(seen))
	}
	if jitter(0) != 0 || jitter(5) != 5 {
		t.Error("jitter of a tiny wait changed it")
	}
}

// TestCheckNowSerialised: concurrent CheckNow calls and Status reads are
// safe, and only one check talks to the server at a time.
func TestCheckNowSerialised(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		jsonBody(`{"latestVersion":"1.4.2"}`)(w, r)
	}, textBody(goodList), nil)
	sk := &sink{}
	r, _ := newRefresher(t, s.url, sk, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 3 {
				if err := r.CheckNow(ctxFor(t, 10*time.Second)); err != nil {
					t.Errorf("CheckNow: %v", err)
				}
				_ = r.Status().UpdateAvailable("1.0.0")
			}
		})
	}
	wg.Wait()
	if m := s.maxIn.Load(); m != 1 {
		t.Errorf("%d requests at once, want 1", m)
	}
	if _, _, calls := sk.get(); calls != 1 {
		t.Errorf("OnList called %d times, want 1", calls)
	}
}

// TestCheckNowWaitHonoursContext: a caller waiting behind a running check
// gives up when its context ends.
func TestCheckNowWaitHonoursContext(t *testing.T) {
	r, err := New(Options{URL: "https://x.nhs.uk"})
	if err != nil {
		t.Fatal(err)
	}
	r.sem <- struct{}{} // a check is running
	err = r.CheckNow(ctxFor(t, 50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CheckNow = %v, want context.DeadlineExceeded", err)
	}
	if st := r.Status(); !st.Checked.IsZero() {
		t.Error("a check that never ran was recorded")
	}
}

// TestDefaultClient: the client used without Options.Client has an overall
// timeout, verifies TLS, uses the environment's proxy and checks redirects.
func TestDefaultClient(t *testing.T) {
	r, err := New(Options{URL: "https://x.nhs.uk"})
	if err != nil {
		t.Fatal(err)
	}
	c := r.client
	tr, ok := c.Transport.(*http.Transport)
	if !ok || c.Timeout != 30*time.Second || c.CheckRedirect == nil || tr.Proxy == nil ||
		tr.TLSClientConfig == nil || tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
		t.Errorf("default client = %+v, transport %+v", c, c.Transport)
	}
}

// TestCheckNowCancelled: a cancelled context stops CheckNow before it
// contacts the server or records anything.
func TestCheckNowCancelled(t *testing.T) {
	s := serve(t, jsonBody(goodInfo), textBody(goodList), nil)
	r, _ := newRefresher(t, s.url, &sink{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		if err := r.CheckNow(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("CheckNow = %v, want context.Canceled", err)
		}
	}
	if s.info.Load() != 0 || !r.Status().Checked.IsZero() {
		t.Error("a cancelled CheckNow contacted the server or recorded a check")
	}
}

// FuzzParseVersionInfo: no answer makes parseVersionInfo panic, and what it
// accepts is printable and bounded.
func FuzzParseVersionInfo(f *testing.F) {
	for _, s := range []string{goodInfo, `[]`, `null`, `{"latestVersion":1}`, `{"latestVersion":"\u0000"}`, "\ufeff{}", `{"latestVersion":"1","latestVersion":"2"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vi, err := parseVersionInfo(b)
		if err != nil {
			return
		}
		for _, v := range []string{vi.LatestVersion, vi.DomainListVersion} {
			if checkVersionString(v) != nil {
				t.Errorf("accepted version %q", v)
			}
		}
	})
}

// FuzzCountLines: countLines never panics and never counts more bad lines
// than lines.
func FuzzCountLines(f *testing.F) {
	for _, s := range []string{goodList, "", "\ufeff#x\n*\nhttps://a.b.c # c\r\n", strings.Repeat("x", 3000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, bad := countLines(b)
		if bad < 0 || bad > lines {
			t.Errorf("countLines = %d, %d", lines, bad)
		}
	})
}
