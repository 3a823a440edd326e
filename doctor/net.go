package doctor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
)

// kind is what answered on a loopback port.
type kind int

const (
	kindNone       kind = iota // nothing listens
	kindHung                   // something listens but does not answer
	kindOther                  // something that is not what was looked for
	kindWrongUser              // a cardbridge agent of another user
	kindCardbridge             // the cardbridge program looked for
)

// answer is what one loopback port said to GET /api/versioninfo.
type answer struct {
	port int
	kind kind
	info *api.VersionInfo // when kind is kindCardbridge
	what string           // for kindOther: what answered instead
}

// netFacts is what the port service and the agent said.
type netFacts struct {
	scan []answer // each well-known port, in order
	ps   *answer  // the first port service found in scan, or nil

	asked    bool   // GetPortNumber was asked
	gpnPort  int    // its answer, 0 when none
	gpnFault string // the fault code, e.g. PR30007
	gpnErr   error  // it could not be asked, or answered nonsense

	agent      *answer // on gpnPort, when there is one
	standalone answer  // on the standalone port (port 0: not looked at)
	// stored is, when no port service answers, the agent on the port
	// PortStore.txt keeps for this user (nil: no such line, or no file).
	stored *answer

	agentPCSCDown bool // the agent found says the PC/SC service is unavailable

	trustedProbed bool  // doctor fetched the trusted URL itself
	trustedErr    error // and this went wrong
}

// gatherNet finds the port service on the well-known ports, asks it for
// this user's agent port, asks the agent there (and on the standalone port)
// who it is, and fetches the trusted URL the port service uses.
func gatherNet(ctx context.Context, opt Options) netFacts {
	p := opt.Probes
	var f netFacts
	var wg sync.WaitGroup
	f.scan = make([]answer, len(opt.Ports))
	for i, port := range opt.Ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.scan[i] = askVersion(ctx, p, port, scanTimeout, "cardbridge-portservice")
		}()
	}
	if opt.StandalonePort > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.standalone = askVersion(ctx, p, opt.StandalonePort, agentTimeout, "cardbridge")
		}()
	}
	wg.Wait()
	for i := range f.scan {
		if f.scan[i].kind == kindCardbridge {
			f.ps = &f.scan[i]
			break
		}
	}
	if f.ps == nil {
		stateDir := cmp.Or(opt.StateDir, DefaultStateDir(opt.GOOS))
		if port := storedPort(p, filepath.Join(stateDir, "PortStore.txt")); port > 0 {
			a := askVersion(ctx, p, port, agentTimeout, "cardbridge")
			f.stored = &a
			if a.kind == kindCardbridge {
				f.agentPCSCDown = pcscDown(ctx, p, a)
				return f
			}
		}
		f.agentPCSCDown = pcscDown(ctx, p, f.standalone)
		return f
	}

	if u := f.ps.info.TrustedURL.URL; u != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.trustedProbed = true
			f.trustedErr = probeTrusted(ctx, p, u)
		}()
	}
	f.asked = true
	f.gpnPort, f.gpnFault, f.gpnErr = getPortNumber(ctx, p, f.ps.port)
	if f.gpnPort > 0 {
		a := askVersion(ctx, p, f.gpnPort, agentTimeout, "cardbridge")
		f.agent = &a
		f.agentPCSCDown = pcscDown(ctx, p, a)
	} else {
		f.agentPCSCDown = pcscDown(ctx, p, f.standalone)
	}
	wg.Wait()
	return f
}

// storedPort is the port PortStore.txt at path keeps for the user doctor
// runs as, or 0. The file is the port service's (one line per user: id,
// tab, port, tab, last seen); doctor only reads the user's own line.
func storedPort(p Probes, path string) int {
	data, err := p.ReadFile(path)
	if err != nil {
		return 0
	}
	id := p.UserID()
	if id == "" {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
		if len(f) >= 2 && f[0] == id {
			if port, err := strconv.Atoi(f[1]); err == nil && port > 0 && port <= 65535 {
				return port
			}
		}
	}
	return 0
}

// askVersion asks port for /api/versioninfo and classifies the answer as
// the product wanted or something else.
func askVersion(ctx context.Context, p Probes, port int, limit time.Duration, product string) answer {
	a := answer{port: port}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	status, body, err := p.Local(ctx, port, "/api/versioninfo")
	switch {
	case errors.Is(err, ErrNotListening):
		a.kind = kindNone
		return a
	case errors.Is(err, ErrNoAnswer):
		a.kind = kindHung
		return a
	case err != nil:
		a.kind, a.what = kindOther, err.Error()
		return a
	}
	var eb api.ErrorBody
	if status == http.StatusForbidden && json.Unmarshal(body, &eb) == nil && eb.Error.Code == api.CodeWrongUser {
		a.kind = kindWrongUser
		return a
	}
	var vi api.VersionInfo
	if status != http.StatusOK || json.Unmarshal(body, &vi) != nil || vi.Product == "" {
		a.kind, a.what = kindOther, fmt.Sprintf("HTTP %d %s", status, snippet(body))
		return a
	}
	if vi.Product != product {
		a.kind, a.what = kindOther, fmt.Sprintf("%s %s", vi.Product, vi.Version)
		return a
	}
	a.kind, a.info = kindCardbridge, &vi
	return a
}

// getPortNumber asks the port service on port which port is this user's,
// as pages do.
func getPortNumber(ctx context.Context, p Probes, port int) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, getPortTimeout)
	defer cancel()
	status, body, err := p.Local(ctx, port, "/PRS/GetPortNumber")
	if err != nil {
		return 0, "", err
	}
	var r api.PortNumberAnswer
	if status != http.StatusOK || json.Unmarshal(body, &r) != nil {
		return 0, "", fmt.Errorf("GetPortNumber answered HTTP %d %s", status, snippet(body))
	}
	switch {
	case r.PortData != nil && r.PortData.PortNumber > 0 && r.PortData.PortNumber < 65536:
		return r.PortData.PortNumber, "", nil
	case r.Fault != nil && r.Fault.Code != "":
		return 0, r.Fault.Code, nil
	}
	return 0, "", fmt.Errorf("GetPortNumber answered %s", snippet(body))
}

// pcscDown asks the agent that answered a whether it can reach PC/SC.
func pcscDown(ctx context.Context, p Probes, a answer) bool {
	if a.kind != kindCardbridge {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, agentTimeout)
	defer cancel()
	status, body, err := p.Local(ctx, a.port, "/api/readers")
	if err != nil || status != http.StatusServiceUnavailable {
		return false
	}
	var eb api.ErrorBody
	return json.Unmarshal(body, &eb) == nil && eb.Error.Code == api.CodePCSCUnavailable
}

// probeTrusted fetches what the port service fetches from the trusted URL.
func probeTrusted(ctx context.Context, p Probes, base string) error {
	ctx, cancel := context.WithTimeout(ctx, trustedTimeout)
	defer cancel()
	base = strings.TrimRight(base, "/")
	for _, path := range []string{"/api/versioninfo", "/api/domainlist"} {
		status, body, err := p.Remote(ctx, base+path)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: no answer within %v", path, trustedTimeout)
			}
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d %s", path, status, snippet(body))
		}
	}
	return nil
}

// snippet is the start of an answer, for a detail line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func checkPortService(f netFacts, ports []int, goos string, holder func(port int) string) Check {
	c := Check{ID: "portservice", Name: "port service"}
	// Well-known ports held by something other than the port service: it
	// can answer pages' discovery in the service's place.
	var blocked, unserved []answer
	var served []int
	for _, a := range f.scan {
		switch {
		case a.kind == kindCardbridge:
			served = append(served, a.port)
		case a.kind == kindNone:
			unserved = append(unserved, a)
		default:
			blocked = append(blocked, a)
		}
	}
	heldBy := func(b answer) string {
		if h := holder(b.port); h != "" {
			return fmt.Sprintf("port %d is held by another program of %s (%s)", b.port, h, describeAnswer(b))
		}
		return fmt.Sprintf("port %d is held by another program (%s)", b.port, describeAnswer(b))
	}
	if f.ps != nil {
		c.Status = OK
		c.Detail = fmt.Sprintf("%s %s on %s %s", f.ps.info.Product, f.ps.info.Version, portsWord(len(served)), joinPorts(served))
		switch {
		case len(blocked) > 0:
			b := blocked[0]
			c.Status = Fail
			c.Detail += "; " + heldBy(b) + ", which can answer pages in the port service's place"
			c.Fix = fmt.Sprintf("find the program on port %d with `%s` and stop or uninstall it (an old NHS Port Service must be uninstalled; cardbridge replaces it); the port service takes the port within a minute", b.port, whoListens(goos, b.port))
		case len(unserved) > 0:
			c.Status = Warn
			c.Detail += fmt.Sprintf("; port %d is not served, so another program could answer pages there", unserved[0].port)
			c.Fix = fixRestartPortService(goos)
		}
		checkPortRange(&c, f.ps.info.PortRange, goos)
		return c
	}
	c.Status = Fail
	if len(blocked) > 0 {
		b := blocked[0]
		if b.kind == kindHung {
			c.Detail = fmt.Sprintf("something listens on port %d but does not answer (a hung port service?)", b.port)
			c.Fix = fixRestartPortService(goos) + fmt.Sprintf("; if that does not help, find the program on port %d with `%s`", b.port, whoListens(goos, b.port))
			return c
		}
		c.Detail = "not found; " + heldBy(b)
		c.Fix = fmt.Sprintf("find the program on port %d with `%s` and stop or uninstall it (an old NHS Port Service must be uninstalled), then ", b.port, whoListens(goos, b.port)) + fixStartPortService(goos)
		return c
	}
	c.Detail = "not running: nothing answers on " + portsWord(len(ports)) + " " + joinPorts(ports)
	c.Fix = fixStartPortService(goos)
	if f.standalone.kind == kindCardbridge {
		c.Status = Warn
		c.Detail += fmt.Sprintf("; the agent runs standalone on port %d, which pages using cardbridge.js find, but NHS pages ask the port service", f.standalone.port)
	}
	return c
}

// portsWord is "port" or "ports" for n of them.
func portsWord(n int) string {
	if n == 1 {
		return "port"
	}
	return "ports"
}

// checkPortRange warns, on the port service's check, about users holding many
// ports of the per-user range and users given ports outside it, as the port
// service reports them.
func checkPortRange(c *Check, r *api.PortRangeInfo, goos string) {
	if r == nil || (len(r.Holders) == 0 && r.Outside == 0) {
		return
	}
	if c.Status == OK {
		c.Status = Warn
	}
	var fixes []string
	if c.Fix != "" {
		fixes = append(fixes, c.Fix)
	}
	for _, h := range r.Holders {
		c.Detail += fmt.Sprintf("; user %s holds %d ports of the per-user range %d-%d besides their own", h.User, h.Ports, r.Lo, r.Hi)
	}
	if len(r.Holders) > 0 {
		fixes = append(fixes, fmt.Sprintf("find that user's programs on the range with `%s` and stop them; see the port service log (event range-ports-held)", whoHoldsRange(goos, r.Lo, r.Hi)))
	}
	if r.Outside > 0 {
		c.Detail += fmt.Sprintf("; %d user(s) got a port outside the range %d-%d because every port of it was unusable", r.Outside, r.Lo, r.Hi)
		fixes = append(fixes, "free the range or give the port service a larger one (--range); see the port service log (event range-exhausted)")
	}
	c.Fix = strings.Join(fixes, "; ")
}

// describeAnswer says what answered on a port instead of cardbridge.
func describeAnswer(a answer) string {
	switch a.kind {
	case kindHung:
		return "it does not answer"
	case kindWrongUser:
		return "another user's cardbridge agent"
	case kindCardbridge:
		return a.info.Product + " " + a.info.Version
	}
	return "it answers " + a.what
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

func checkAgent(f netFacts, pf pcscFacts, standalonePort int, goos string) Check {
	c := Check{ID: "agent", Name: "agent"}
	sa := f.standalone
	found := func(a answer, how string) {
		c.Status = OK
		c.Detail = fmt.Sprintf("%s %s on port %d, %s", a.info.Product, a.info.Version, a.port, how)
		if f.agentPCSCDown && pf.err == nil {
			c.Status = Warn
			c.Detail += "; it says the PC/SC service is unavailable, though doctor reaches it"
			c.Fix = fixRestartAgent(goos)
		}
	}
	switch {
	case f.agent != nil && f.agent.kind == kindCardbridge:
		found(*f.agent, "registered with the port service")
		if sa.kind == kindCardbridge && c.Status == OK {
			c.Status = Warn
			c.Detail += fmt.Sprintf("; a second agent runs standalone on port %d", sa.port)
			c.Fix = "stop the agent started with --listen; the registered one is enough"
		}
	case f.agent != nil:
		c.Status = Fail
		switch f.agent.kind {
		case kindHung:
			c.Detail = fmt.Sprintf("the port service gives port %d, but the agent there does not answer within %v (hung?)", f.gpnPort, agentTimeout)
			c.Fix = fixRestartAgent(goos)
		case kindNone:
			c.Detail = fmt.Sprintf("the port service gives port %d, but nothing listens there", f.gpnPort)
			c.Fix = fixRestartAgent(goos)
		case kindWrongUser:
			c.Detail = fmt.Sprintf("the port service gives port %d, but another user's agent answers there", f.gpnPort)
			c.Fix = fixRestartPortService(goos) + ", then " + fixRestartAgent(goos) + "; report this to your IT security team if it happens again"
		default:
			c.Detail = fmt.Sprintf("the port service gives port %d, but another program answers there (%s)", f.gpnPort, f.agent.what)
			c.Fix = fmt.Sprintf("find it with `%s` and stop it, then %s", whoListens(goos, f.gpnPort), fixRestartAgent(goos))
		}
	case f.stored != nil && f.stored.kind == kindCardbridge:
		found(*f.stored, "at the port PortStore.txt keeps for you")
		c.Status = Warn
		c.Detail += "; the port service is down, so pages cannot find it"
		c.Fix = fixStartPortService(goos)
	case sa.kind == kindCardbridge:
		found(sa, "standalone (not registered with a port service)")
	case sa.kind == kindHung:
		c.Status, c.Fix = Fail, fixRestartAgent(goos)
		c.Detail = fmt.Sprintf("something listens on the standalone port %d but does not answer within %v (a hung agent?)", sa.port, agentTimeout)
	case f.asked && f.gpnFault != "":
		c.Status, c.Fix = Fail, fixStartAgent(goos)
		c.Detail = fmt.Sprintf("not running for this user: the port service has no agent for you (%s)", f.gpnFault)
		if standalonePort > 0 {
			c.Detail += fmt.Sprintf(", and none runs standalone on port %d", standalonePort)
		}
	case f.asked:
		c.Status = Skip
		c.Detail = "cannot tell: the port service did not say which port is yours"
	default:
		c.Status = Skip
		c.Detail = "cannot tell without the port service"
		if standalonePort > 0 {
			c.Detail += fmt.Sprintf("; none runs standalone on port %d", standalonePort)
		}
	}
	return c
}

func checkAgentPort(f netFacts, goos string) Check {
	c := Check{ID: "agent-port", Name: "agent port"}
	switch {
	case !f.asked:
		c.Status, c.Detail = Skip, "not checked: no port service to ask"
	case f.gpnErr != nil:
		c.Status = Fail
		c.Detail = fmt.Sprintf("the port service on port %d did not say which port is yours: %v", f.ps.port, f.gpnErr)
		if errors.Is(f.gpnErr, ErrNoAnswer) {
			c.Detail = fmt.Sprintf("the port service on port %d did not answer GetPortNumber within %v", f.ps.port, getPortTimeout)
		}
		c.Fix = fixRestartPortService(goos)
	case f.gpnFault != "" && f.standalone.kind == kindCardbridge:
		c.Status = Fail
		c.Detail = fmt.Sprintf("the port service has no agent for you (%s), but one runs standalone on port %d: NHS pages ask the port service and will not find it", f.gpnFault, f.standalone.port)
		c.Fix = fixRegisterAgent(goos)
	case f.gpnFault != "":
		c.Status, c.Detail = Skip, "not checked: no agent"
	case f.agent == nil || f.agent.kind != kindCardbridge:
		c.Status, c.Detail = Skip, fmt.Sprintf("not checked: no agent answers on port %d", f.gpnPort)
	case f.agent.info.Port != f.gpnPort:
		c.Status = Fail
		c.Detail = fmt.Sprintf("the port service gives pages port %d, but the agent there says it serves port %d", f.gpnPort, f.agent.info.Port)
		c.Fix = fixRestartAgent(goos)
	case !f.agent.info.PortService.Connected:
		c.Status = Warn
		c.Detail = fmt.Sprintf("both say %d, but the agent has lost its connection to the port service (it reconnects by itself)", f.gpnPort)
		c.Fix = "if this lasts more than a minute, " + fixRestartAgent(goos)
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("the port service and the agent agree: %d", f.gpnPort)
	}
	return c
}
