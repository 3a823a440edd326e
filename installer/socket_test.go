package installer

import (
	"runtime"
	"testing"

	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// TestLoginEntriesNameThePortService: the socket each platform's login
// entries name is the one the port service listens on there.
func TestLoginEntriesNameThePortService(t *testing.T) {
	want := map[string]string{"linux": linuxSocket, "darwin": darwinSocket, "windows": windowsPipe}[runtime.GOOS]
	if want == "" {
		t.Skipf("cardbridge installs no login entries on %s", runtime.GOOS)
	}
	if want != localsock.DefaultPath {
		t.Errorf("the login entries name %q; the port service listens on %q", want, localsock.DefaultPath)
	}
}
