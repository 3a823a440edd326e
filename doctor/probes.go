package doctor

import (
	"context"
	"errors"
	"io/fs"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/pinprompt"
	"github.com/cardbridge/cardbridge/policy"
)

// Probes is everything the checks ask of the machine. Each method returns
// when ctx ends at the latest.
type Probes interface {
	// Readers lists the PC/SC readers and whether each holds a card.
	Readers(ctx context.Context) ([]pcsc.Reader, error)
	// ReadCard reads the identity of the card in r.
	ReadCard(ctx context.Context, r pcsc.Reader) api.Card
	// Local GETs http://localhost:port/path over loopback only, without
	// an Origin, and returns the status and (at most 1 MiB of) the body.
	// Nothing listening is ErrNotListening; a listener that does not
	// answer before ctx ends is ErrNoAnswer.
	Local(ctx context.Context, port int, path string) (int, []byte, error)
	// Remote GETs an absolute URL (the trusted URL) the way this user's
	// programs would: proxy from the environment, TLS verified.
	Remote(ctx context.Context, url string) (int, []byte, error)
	// Browsers lists the Chromium-family browsers found and their
	// managed policies.
	Browsers() []Browser
	// Stat is os.Stat.
	Stat(path string) (fs.FileInfo, error)
	// ServiceManager is what starts services on this host: "systemd",
	// "launchd", "scm" (Windows) or "none".
	ServiceManager() string
	// ReadFile reads a regular file of at most 1 MiB.
	ReadFile(path string) ([]byte, error)
	// UserID is the OS user doctor runs as, as the port service names
	// users in PortStore.txt ("uid:1000", or a Windows SID); "" when
	// unknown.
	UserID() string
	// PINPrompt says how signing would ask for the PIN, given the
	// agent's --pinentry (configured; "" for none): pinprompt.Choose.
	PINPrompt(configured string) (pinprompt.Choice, error)
	// PortHolder names the OS user whose socket listens on the loopback
	// port and, where the OS tells, its process ("uid:1001 (alice), probe
	// (pid 4242)"), or "" when the OS does not tell.
	PortHolder(port int) string
	// Policies are the administrator's policies for cardbridge
	// (policy.Load).
	Policies() *policy.Set
}

// Errors of Probes.Local.
var (
	// ErrNotListening means nothing listens on the port.
	ErrNotListening = errors.New("nothing listens there")
	// ErrNoAnswer means something listens but did not answer in time.
	ErrNoAnswer = errors.New("connected, but no answer in time")
)

// Browser is a Chromium-family browser and the policies an administrator
// set for it.
type Browser struct {
	ID   string // "chrome", "chromium" or "edge"
	Name string // "Chrome", "Chromium" or "Edge"
	// Installed says the browser was found on this machine; a browser
	// that is not, but has policies, is listed too.
	Installed bool
	// Policies are the managed policies in force (recommended ones where
	// no managed one is set), by policy name.
	Policies Policies
	// Where names where policies for it are set on this platform: a
	// directory (Linux), a registry key (Windows) or a preference domain
	// (macOS); fixes point there.
	Where string
	// Err says why the policies could not be read; Policies then holds
	// what could be.
	Err error
}
