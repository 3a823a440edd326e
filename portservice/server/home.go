package server

import (
	"bytes"
	_ "embed"
	"html/template"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/localhttp"
)

// homeHTML is the port service's page at /, for people: it sends the
// calling user to their own agent's status page, or says that they have no
// agent running and what to do. Its <style> holds no template action (see
// localhttp.PageCSP).
//
//go:embed home.html
var homeHTML []byte

var (
	homeTmpl = template.Must(template.New("home.html").Parse(string(homeHTML)))
	homeCSP  = localhttp.PageCSP(homeHTML)
)

// homeData is what the page shows.
type homeData struct {
	Status  string // the calling user's agent status page; "" when none
	Who     string // the calling user, "uid:1000 (alice)"; "" when unknown
	Windows bool
	Start   string // the command that starts the user's agent
	Doctor  string // the helpdesk check, as the user would type it
}

// commands are what the page tells a user without an agent to type: the
// command that starts their agent, and the helpdesk check. On Windows both
// are programs beside this one, by their full path (the install folder is
// not on PATH): the supervisor, which the Run value starts at sign-in and
// which needs no console window, for Windows+R; and cardbridge.exe doctor,
// for a Command Prompt, where its answer stays on screen to be read out.
// Elsewhere they are `cardbridge agent` and `cardbridge doctor`, run in a
// terminal.
var commands = sync.OnceValues(func() (string, string) { return commandsFor(runtime.GOOS, os.Executable) })

func commandsFor(goos string, executable func() (string, error)) (start, doctor string) {
	if goos != "windows" {
		return "cardbridge agent", "cardbridge doctor"
	}
	dir := `%ProgramFiles%\cardbridge\`
	if exe, err := executable(); err == nil && strings.ContainsAny(exe, `\/`) {
		dir = exe[:strings.LastIndexAny(exe, `\/`)+1]
	}
	return `"` + dir + `cardbridge-supervisor.exe"`, `"` + dir + `cardbridge.exe" doctor`
}

// handleHome answers GET / for the calling user only, found as
// GetPortNumber finds them (the OS owner of the page's TCP connection): a
// redirect to their agent's status page, on the loopback name they used,
// or a page saying they have no agent and what to do. No other user's
// port, name or state is ever part of the answer.
func (s *Service) handleHome(w http.ResponseWriter, r *http.Request) {
	d := homeData{Windows: runtime.GOOS == "windows"}
	d.Start, d.Doctor = commands()
	status := http.StatusOK
	user, err := localhttp.PeerUser(r)
	switch {
	case err != nil:
		s.log.Warn().Err(err).Str("remote", r.RemoteAddr).Msg("home page: cannot tell who is calling")
		status = http.StatusForbidden
	default:
		d.Who = user.Describe()
		port, err := s.portFor(r.Context(), user)
		if err != nil {
			s.log.Info().Str("user", user.ID).Err(err).Msg("home page: no agent for this user")
			break
		}
		d.Status = agentStatusURL(r.Host, port)
		w.Header().Set("Location", d.Status)
		status = http.StatusSeeOther
	}
	var buf bytes.Buffer
	if err := homeTmpl.Execute(&buf, d); err != nil {
		s.log.Error().Err(err).Msg("render home page")
		localhttp.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "cannot render the page")
		return
	}
	localhttp.WriteHTML(w, status, homeCSP, buf.Bytes())
}

// agentStatusURL is the agent's status page on port, under the loopback
// name the page was asked for by (localhost, 127.0.0.1 or [::1], as the
// Guard has checked).
func agentStatusURL(host string, port int) string {
	name, _, err := net.SplitHostPort(host)
	if err != nil || name == "" {
		name = "localhost"
	}
	return "http://" + net.JoinHostPort(strings.ToLower(name), strconv.Itoa(port)) + "/"
}
