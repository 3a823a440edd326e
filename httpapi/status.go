package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"html/template"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/localhttp"
)

// statusHTML is the status page's template. Its <style> holds no template
// action, so that the page's CSP allows it by hash (localhttp.PageCSP).
//
//go:embed status.html
var statusHTML []byte

// statusTmpl and statusCSP are made the first time the page is asked
// for, not when the program starts: every start of the binary (the
// supervisor, doctor, each agent in a logon storm) would pay for them.
var (
	statusTmpl = sync.OnceValue(func() *template.Template {
		return template.Must(template.New("status.html").Funcs(template.FuncMap{"local": localTime, "localDate": localDate}).Parse(string(statusHTML)))
	})
	statusCSP = sync.OnceValue(func() string { return localhttp.PageCSP(statusHTML) })
)

// statusDiagnosticsWait bounds how long the status page waits for the
// helpdesk report before it is shown without it.
const statusDiagnosticsWait = diagnosticsTimeout + 2*time.Second

// verdict is the status page's one-line answer to "does it work?".
type verdict struct {
	Class  string // "ok", "warn" or "bad", for colour
	Text   string // what works, or what is wrong, in plain words
	Advice string // what to do; "" when nothing
}

// readerView is one reader on the status page.
type readerView struct {
	Name    string
	Card    *api.Card
	Problem *cardinfo.Problem // when the card could not be read
	Expiry  time.Time         // the certificate's, when known
	Expired bool
}

// refusalView is one refused request on the status page.
type refusalView struct {
	Time time.Time
	What string // who asked: a site's origin, or that no Origin was sent
	Path string // "GET /api/card"
	Why  string // why it was refused, in plain words
	Code api.Code
}

// statusData is what the status page shows.
type statusData struct {
	Verdict      verdict
	Info         api.VersionInfo
	Available    bool
	Readers      []readerView
	Started      time.Time
	Now          time.Time
	LogFile      string
	Refused      []refusalView
	RefusedTotal uint64
	Diagnostics  string // `cardbridge doctor --json` for this user
	DiagError    string // why there is none
}

// handleStatus renders the helpdesk status page: plain HTML without
// script, made anew when the user asks (the page never reloads itself,
// which would disturb a screen reader).
//
// It is for people, never for pages: it holds the helpdesk report (the
// user's name, file paths), so a request with an Origin, which a browser
// sends for a page's fetch but not when a person opens the page, is
// refused even from a site on the DomainList.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		localhttp.WriteError(w, http.StatusForbidden, api.CodeOriginNotAllowed, "the status page is for people, not for web pages")
		return
	}
	now := time.Now()
	d := statusData{
		Info:      s.versionInfo(),
		Available: s.opt.Backend.Available(),
		Started:   s.started,
		Now:       now,
		LogFile:   s.opt.LogFile,
	}
	for _, rd := range s.opt.Backend.Readers().Readers {
		d.Readers = append(d.Readers, newReaderView(rd, now))
	}
	d.Verdict = verdictOf(d.Available, d.Readers, len(d.Info.DomainList.Entries))
	refused, total := s.refused.latest()
	for _, rf := range refused {
		d.Refused = append(d.Refused, newRefusalView(rf))
	}
	d.RefusedTotal = total
	ctx, cancel := context.WithTimeout(r.Context(), statusDiagnosticsWait)
	report, err := s.diag.get(ctx, stateKey(d.Available, d.Readers))
	cancel()
	if err != nil {
		d.DiagError = "the helpdesk check did not finish (" + err.Error() + "); run `cardbridge doctor --json` instead"
	} else {
		d.Diagnostics = string(report)
	}

	var buf bytes.Buffer
	if err := statusTmpl().Execute(&buf, d); err != nil {
		s.log.Error().Err(err).Msg("render status page")
		localhttp.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "cannot render the status page")
		return
	}
	localhttp.WriteHTML(w, http.StatusOK, statusCSP(), buf.Bytes())
}

// stateKey sums up what the agent sees of readers and cards, so that a
// helpdesk report made in another state is not shown again.
func stateKey(available bool, readers []readerView) string {
	var b strings.Builder
	b.WriteString(strconv.FormatBool(available))
	for _, r := range readers {
		b.WriteString("\x00" + r.Name)
		if k := r.Card; k != nil {
			b.WriteString("\x01" + k.ATR + "\x01" + k.UUID)
			if k.Error != nil {
				b.WriteString("\x01" + string(k.Error.Code))
			}
		}
	}
	return b.String()
}

// newReaderView describes a reader and its card for the page.
func newReaderView(rd api.Reader, now time.Time) readerView {
	v := readerView{Name: rd.Name, Card: rd.Card}
	if rd.Card == nil {
		return v
	}
	if rd.Card.Error != nil {
		p := cardinfo.Explain(*rd.Card.Error)
		v.Problem = &p
	}
	if t, err := time.Parse(time.RFC3339, rd.Card.NotAfter); err == nil {
		v.Expiry = t
		v.Expired = !now.Before(t)
	}
	return v
}

// verdictOf sums the page up in one line: the first thing that keeps a
// page from using the card, or that all works.
func verdictOf(available bool, readers []readerView, domains int) verdict {
	if !available {
		return verdict{"bad", "Not working: the smart card service of this computer (PC/SC) is not running.", startPCSCAdvice()}
	}
	if len(readers) == 0 {
		return verdict{"bad", "Not working: no card reader is connected.", "Plug in the smartcard reader. If it is plugged in, try another USB port, then restart the computer."}
	}
	var problem, reading *readerView
	for i := range readers {
		rv := &readers[i]
		switch {
		case rv.Card == nil:
			continue
		case rv.Problem != nil:
			problem = cmpOr(problem, rv)
		case rv.Card.UUID == "":
			reading = cmpOr(reading, rv)
		case rv.Expired:
			problem = cmpOr(problem, rv)
		default:
			if domains == 0 {
				return verdict{"bad", "Not working: the card is ready, but no web site is trusted to use it (the DomainList is empty).", "Call your IT helpdesk: the list of trusted sites did not arrive."}
			}
			return verdict{"ok", "All working: smartcard " + rv.Card.UUID + " is ready to use.", ""}
		}
	}
	switch {
	case problem != nil && problem.Problem != nil && problem.Problem.NotPIV:
		return verdict{"bad", "Not working: the card in the reader is not an NHS smartcard.", problem.Problem.Advice}
	case problem != nil && problem.Problem != nil:
		return verdict{"bad", "Not working: " + problem.Problem.What, problem.Problem.Advice}
	case problem != nil:
		return verdict{"bad", "Not working: the certificate on smartcard " + problem.Card.UUID + " has expired.", "Ask your Registration Authority (RA) to renew your smartcard."}
	case reading != nil:
		return verdict{"warn", "Reading the smartcard…", "Select Refresh in a moment."}
	}
	return verdict{"warn", "No smartcard: insert your NHS smartcard into the reader.", "Put the card in chip first. If it is in, take it out and push it back in fully."}
}

// cmpOr keeps the first reader found.
func cmpOr(have, v *readerView) *readerView {
	if have != nil {
		return have
	}
	return v
}

// startPCSCAdvice says how to start the smart card service here.
func startPCSCAdvice() string {
	switch runtime.GOOS {
	case "windows":
		return "Start the “Smart Card” service (services.msc), or restart the computer. If it keeps happening, call your IT helpdesk."
	case "darwin":
		return "Restart the computer. If it keeps happening, call your IT helpdesk."
	}
	return "Start it (in a terminal: sudo systemctl start pcscd), or restart the computer. If it keeps happening, call your IT helpdesk."
}

// newRefusalView says what a refused request was and why, in plain words.
func newRefusalView(r localhttp.Refusal) refusalView {
	v := refusalView{Time: r.Time, What: r.Origin, Code: r.Code}
	if v.What == "" {
		v.What = "no Origin: a program, or an address typed in a browser"
	}
	if r.Method != "" {
		v.Path = r.Method + " " + r.Path
	}
	switch r.Code {
	case api.CodeOriginNotAllowed:
		switch r.Origin {
		case "null":
			v.Why = "a page without an address of its own (a local file or a sandboxed frame) may never use the card"
		case "":
			v.Why = "the request named several origins"
		default:
			v.Why = "this site is not on the DomainList of trusted sites"
		}
	case api.CodeWrongUser:
		if r.Caller != "" {
			v.Why = "it came from a program of another user of this computer (" + r.Caller + "); the agent serves only you"
		} else {
			v.Why = "the user of the program that asked could not be found, so it was not trusted"
		}
	case api.CodeHostNotAllowed:
		v.Why = "it was addressed to “" + r.Host + "”, not to localhost (a web site trying to reach the agent by another name)"
	default:
		v.Why = r.Reason
	}
	return v
}

// localTime formats t in this computer's time zone, naming the zone:
// "5 Dec 2026 11:42:07 GMT (+00:00)".
func localTime(t time.Time) string { return timeIn(t, time.Local) }

// localDate formats the date of t in this computer's time zone, naming the
// zone: "5 Dec 2027 11:42 GMT".
func localDate(t time.Time) string { return dateIn(t, time.Local) }

func timeIn(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("2 Jan 2006 15:04:05 MST (-07:00)")
}

func dateIn(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("2 Jan 2006 15:04 MST")
}
