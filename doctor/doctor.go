// Package doctor is `cardbridge doctor`, the helpdesk check: the smart card
// service, readers, the card and its UUID, the agent and the port service and
// whether they agree on the agent's port, the DomainList and the trusted URL,
// browser policies for Local Network Access and cookies, and where the logs
// are. Each check is one line: a status, what was found and, when something is
// wrong, a fix saying what to do on this platform.
//
// Checks see the machine only through Probes, so that tests can use fakes;
// System is the real thing. Every probe is bounded in time, so a run ends
// within a few seconds even when everything it asks hangs.
package doctor

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/portservice"
)

// Status is a check's outcome.
type Status string

// The statuses, from good to bad. Only Fail makes the exit code non-zero.
const (
	OK   Status = "ok"   // as it should be
	Info Status = "info" // worth knowing, nothing to do
	Skip Status = "skip" // could not be checked because something else failed
	Warn Status = "warn" // works, but something may bite; see Fix
	Fail Status = "fail" // broken; see Fix
)

// Check is one line of the report.
type Check struct {
	ID     string `json:"id"`     // stable key for scripts, e.g. "pcsc", "agent-port"
	Name   string `json:"name"`   // what a person reads, e.g. "PC/SC service"
	Status Status `json:"status"` // ok, info, skip, warn or fail
	Detail string `json:"detail"` // what was found
	Fix    string `json:"fix"`    // what to do; "" when nothing
}

// Summary counts the checks by status.
type Summary struct {
	OK   int    `json:"ok"`
	Info int    `json:"info"`
	Skip int    `json:"skip"`
	Warn int    `json:"warn"`
	Fail int    `json:"fail"`
	Text string `json:"text"` // e.g. "2 problems, 1 warning"
}

// Report is a whole run: the JSON of `cardbridge doctor --json`.
type Report struct {
	Product string    `json:"product"` // "cardbridge"
	Version string    `json:"version"` // of the cardbridge running doctor
	OS      string    `json:"os"`
	Arch    string    `json:"arch"`
	User    string    `json:"user"` // who ran it, e.g. "alice (uid:1000)"
	Time    time.Time `json:"time"`
	Checks  []Check   `json:"checks"`
	Summary Summary   `json:"summary"`
	OK      bool      `json:"ok"` // no check failed
}

// ExitCode is 0 when no check failed (warnings allowed), else 1.
func (r Report) ExitCode() int {
	if r.OK {
		return 0
	}
	return 1
}

// Options configures a run. Only Probes is required.
type Options struct {
	Probes Probes
	// GOOS is the platform whose fixes are given; runtime.GOOS when "".
	GOOS string
	// Ports are the port service's well-known ports, in the order pages
	// try them; portservice.DefaultPorts when empty.
	Ports []int
	// StandalonePort is where a standalone agent listens (43485 when 0;
	// negative: do not look for one).
	StandalonePort int
	// AgentLog is the agent's log file; "" for the per-user default.
	AgentLog string
	// StateDir is the port service's state directory, for its log; "" to
	// take it from the port service, else the platform's default.
	StateDir string
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// Timeout bounds the whole run; DefaultTimeout when 0.
	Timeout time.Duration
	// User names who runs the check, for the report's header.
	User string
	// Version is the running cardbridge's version.
	Version string
	// PINEntry is the agent's --pinentry; "" for the platform's default
	// PIN prompt.
	PINEntry string
	// ServiceManager is what starts services on the host ("systemd",
	// "launchd", "scm", or "none"), whose commands fixes name; "" asks
	// Probes.ServiceManager.
	ServiceManager string
}

// DefaultStandalonePort is the agent's port when it runs with --listen and
// no port service: the one pages try after the port service.
const DefaultStandalonePort = 43485

// Time limits. A run takes at most the longer of the PC/SC and network
// branches, which run side by side.
const (
	DefaultTimeout = 10 * time.Second        // the whole run, whatever hangs
	pcscTimeout    = 2 * time.Second         // listing readers
	cardTimeout    = 4 * time.Second         // reading every card's identity
	scanTimeout    = 1200 * time.Millisecond // asking each well-known port
	getPortTimeout = 3500 * time.Millisecond // GetPortNumber: the service waits up to 3 s for a moving agent
	agentTimeout   = 2 * time.Second         // asking the agent
	trustedTimeout = 4 * time.Second         // fetching the trusted URL
)

// Run carries out every check and returns the report.
func Run(ctx context.Context, opt Options) Report {
	opt = opt.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	now := opt.Now()

	var (
		wg  sync.WaitGroup
		pf  pcscFacts
		nf  netFacts
		brs []Browser
	)
	wg.Add(3)
	go func() { defer wg.Done(); pf = gatherPCSC(ctx, opt.Probes) }()
	go func() { defer wg.Done(); nf = gatherNet(ctx, opt) }()
	go func() { defer wg.Done(); brs = opt.Probes.Browsers() }()
	wg.Wait()

	goos := hostOS(opt.GOOS, cmp.Or(opt.ServiceManager, opt.Probes.ServiceManager()))
	pol := opt.Probes.Policies()
	pinEntry := opt.PINEntry
	if v, ok := pol.ForFlag("pinentry"); ok {
		pinEntry = v.Text // the policy beats the agent's flag
	}
	checks := []Check{
		checkPCSC(pf, goos),
		checkReaders(pf, goos),
		checkCard(pf, now),
		checkPortService(nf, opt.Ports, goos, opt.Probes.PortHolder),
		checkAgent(nf, pf, opt.StandalonePort, goos),
		checkAgentPort(nf, goos),
		checkDomainList(nf, opt.Probes, now, goos),
		checkTrustedURL(nf, now, goos),
		checkPINPrompt(gatherPINPrompt(opt.Probes, pinEntry, goos), goos),
		checkPolicy(pol, goos),
	}
	checks = append(checks, checkBrowsers(brs, domainEntries(nf), goos)...)
	checks = append(checks,
		checkAgentLog(opt.Probes, opt.AgentLog, now),
		checkPortServiceLog(nf, opt.Probes, opt.StateDir, goos, now),
	)
	return newReport(opt, now, checks)
}

func (opt Options) withDefaults() Options {
	if opt.GOOS == "" {
		opt.GOOS = runtime.GOOS
	}
	if len(opt.Ports) == 0 {
		opt.Ports = slices.Clone(portservice.DefaultPorts)
	}
	if opt.StandalonePort == 0 {
		opt.StandalonePort = DefaultStandalonePort
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	return opt
}

// newReport adds the header and the summary to checks.
func newReport(opt Options, now time.Time, checks []Check) Report {
	r := Report{Product: "cardbridge", Version: opt.Version, OS: opt.GOOS, Arch: runtime.GOARCH, User: opt.User, Time: now.UTC().Truncate(time.Second), Checks: checks}
	r.Summary = Summarize(checks)
	r.OK = r.Summary.Fail == 0
	return r
}

// Summarize counts checks by status and says it in words.
func Summarize(checks []Check) Summary {
	var s Summary
	for _, c := range checks {
		switch c.Status {
		case OK:
			s.OK++
		case Info:
			s.Info++
		case Skip:
			s.Skip++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		}
	}
	switch {
	case s.Fail == 0 && s.Warn == 0:
		s.Text = fmt.Sprintf("all good: %s ok", plural(s.OK, "check", "checks"))
	case s.Fail == 0:
		s.Text = "no problems, " + plural(s.Warn, "warning", "warnings")
	case s.Warn == 0:
		s.Text = plural(s.Fail, "problem", "problems")
	default:
		s.Text = plural(s.Fail, "problem", "problems") + ", " + plural(s.Warn, "warning", "warnings")
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
