// Package agentd runs one user's cardbridge agent: its log, the DomainList
// in force (a --domains file and its watch, the port service's list, or the
// built-in one), its port (registered with the port service, or a
// standalone listener), the HTTP API, the card core, moves to another port
// and registering again when the port service restarts, and the watch for
// an upgraded executable.
package agentd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/httpapi"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/pinprompt"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// standalonePort is the agent's usual port when it runs without the port
// service (named in the advice when the service cannot be reached).
const standalonePort = 43485

// Options configure the agent; they are the flags of `cardbridge agent`.
type Options struct {
	// Listen, when set, is the loopback address to serve on standalone,
	// without the port service.
	Listen string
	// PortService is the port service's local socket (localsock.DefaultPath
	// when empty).
	PortService string
	// StandaloneFallback makes an agent that finds no port service at
	// PortService serve standalone on localhost:43485 instead of failing,
	// saying so in the log: what a plain `cardbridge agent` does, while
	// one told --portservice waits for no fallback.
	StandaloneFallback bool
	// Domains is a DomainList file to use instead of the port service's
	// list, reloaded when it changes.
	Domains string
	// PINEntry is the PIN prompt program; empty for the platform's usual
	// one.
	PINEntry string
	// LogFile is the log file (empty: the per-user log directory), and
	// LogLevel its level: debug, info (when empty), warn or error.
	LogFile, LogLevel string
	// UpgradeCheck is how long an upgraded cardbridge executable must
	// stay unchanged before the agent restarts onto it (and how often it
	// looks where the system cannot tell of changes); 0 never.
	UpgradeCheck time.Duration
	// Settings are the agent's settings and where each came from, and
	// PolicyProblems what was wrong with the administrator's policies, to
	// show on /api/versioninfo and the status page.
	Settings       []api.Setting
	PolicyProblems []string
}

// loadPolicies reads the administrator's policies, for the DomainList they
// impose while the agent runs.
var loadPolicies = policy.Load

// Run runs the agent until ctx ends or it fails. When its executable is
// upgraded it restarts onto the new one in place (where the OS allows it)
// and does not return unless that fails.
func Run(ctx context.Context, opt Options) error {
	if opt.PortService == "" {
		opt.PortService = localsock.DefaultPath
	}
	err := run(ctx, opt)
	if up := (*errUpgraded)(nil); errors.As(err, &up) {
		err = restartOnto(up) // returns only on failure
	}
	return err
}

// run runs the agent until ctx ends, it fails, or its executable is
// upgraded (*errUpgraded).
func run(ctx context.Context, opt Options) error {
	log, closer, err := logging.New(logging.Options{File: opt.LogFile, Name: "agent", Level: opt.LogLevel})
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer closer.Close()
	logPath := opt.LogFile
	if r, ok := closer.(*logging.Rotating); ok {
		logPath = r.Path()
	}
	policy.Log(log, opt.Settings, opt.PolicyProblems)
	self, err := peercred.Current()
	if err != nil {
		return fmt.Errorf("find the current user: %w", err)
	}
	domains, err := newDomainSource(opt.Domains, log)
	if err != nil {
		return err
	}
	domains.policies = &policy.Follower{Load: loadPolicies, Log: log}
	domains.applyPolicy()
	l := &loop{
		log:      log,
		domains:  domains,
		register: func(ctx context.Context) (registration, error) { return register(ctx, opt.PortService, self) },
		listen:   listenLocalhost,
		after:    time.After,
	}
	if opt.StandaloneFallback {
		l.fallback = "localhost:" + strconv.Itoa(standalonePort)
	}
	// Fail now, before anything runs, if there is no port to serve on.
	reg, lns, port, err := l.open(ctx, opt.Listen)
	if err != nil {
		if ctx.Err() != nil {
			log.Info().Msg("cardbridge agent stopped before it served")
			return nil
		}
		return err
	}

	mon := pcsc.NewMonitor(pcsc.MonitorOptions{Logger: &log})
	core := agent.New(agent.Options{Monitor: mon, Logger: log, PINPrompt: pinprompt.New(opt.PINEntry, log)})
	srv := httpapi.New(httpapi.Options{Backend: core, Domains: domains.get, Self: self, Logger: log, LogFile: logPath, PortService: l.connected.Load, Settings: opt.Settings, PolicyProblems: opt.PolicyProblems})
	defer srv.Close()
	l.srv = srv
	changed := srv.DomainsChanged
	domains.onChange.Store(&changed)

	stopAsked := ctx.Done() // the caller (a signal) ends the agent
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); defer cancel(); _ = core.Run(ctx) }()
	go func() { defer wg.Done(); domains.watch(ctx) }()
	go func() { defer wg.Done(); domains.watchPolicy(ctx) }()
	upgraded := make(chan *errUpgraded, 1)
	if canReexec && opt.UpgradeCheck > 0 {
		if w := newExeWatch(log); w != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if up, ok := w.wait(ctx, opt.UpgradeCheck, core.StopSigning); ok {
					upgraded <- up
					cancel()
				}
			}()
		}
	}
	log.Info().Str("user", self.String()).Str("log", logPath).Bool("portService", reg != nil).Msg("cardbridge agent starting")
	if reg == nil {
		err = srv.Serve(ctx, lns...)
	} else {
		err = l.serve(ctx, reg, lns, port)
	}
	cancel()
	wg.Wait()
	select {
	case <-stopAsked:
		// Asked to stop as the upgrade came: stop, not restart.
	default:
		select {
		case up := <-upgraded:
			log.Info().Str("path", up.path).Str("new", up.version).Msg("the cardbridge executable was upgraded; restarting onto it")
			return up
		default:
		}
	}
	log.Info().Msg("cardbridge agent stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
