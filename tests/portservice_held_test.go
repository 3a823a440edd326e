//go:build linux && cgo

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// holdPortsAs runs connhog -hold as u: client sockets bound to 127.0.0.1 on
// each of ports, connected and not listening, held until the test ends.
func holdPortsAs(t *testing.T, u *user.User, ports ...int) {
	t.Helper()
	hog := filepath.Join(binDir, "connhog")
	if _, err := os.Stat(hog); err != nil {
		if out, err := exec.Command("go", "build", "-o", binDir+"/", "../tools/connhog").CombinedOutput(); err != nil {
			t.Fatalf("build connhog: %v\n%s", err, out)
		}
	}
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = fmt.Sprint(p)
	}
	if line := startAs(t, u, 20*time.Second, hog, "-hold", strings.Join(list, ",")); !strings.HasPrefix(line, "ready ") {
		t.Fatalf("connhog -hold %v as %s: %q", ports, u.Username, line)
	}
}

// stablePort asks GetPortNumber as u five times, a second apart, and fails
// unless every answer is the same port; it returns that port.
func stablePort(t *testing.T, ps *portService, u *user.User) int {
	t.Helper()
	first := getPortNumber(t, ps, u, true)
	if first == 0 {
		t.Fatalf("%s's agent got no port; port service log:\n%s", u.Username, ps.log())
	}
	for i := 1; i < 5; i++ {
		time.Sleep(time.Second)
		if p := getPortNumber(t, ps, u, true); p != first {
			t.Fatalf("GetPortNumber as %s answered %d, then %d (answer %d); port service log:\n%s", u.Username, first, p, i+1, ps.log())
		}
	}
	return first
}

// A second OS user holding client sockets (bound, connected, not listening)
// on range ports: a new user's agent still gets a port it can serve on and
// keeps it; with the whole range held, the new user gets a port outside it.
func TestPortServiceHeldRangePorts(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	logDir := sharedLogDir(t, dir)
	hog := namedUser(t, "cardbridge-hog")

	// The ranges lie below the ephemeral ports, so that no other test's
	// connection takes a port the hog is about to bind.
	t.Run("the two lowest ports", func(t *testing.T) {
		lo := testutil.QuietPorts(t, 30300, 10)
		hi := lo + 9
		holdPortsAs(t, hog, lo, lo+1)
		ps := startPortService(t, filepath.Join(dir, "state-two"), testutil.FreePort(t), lo, hi)
		tu := &testUser{u: namedUser(t, "cardbridge-u1")}
		startUserAgent(t, ps, tu, logDir)
		port := stablePort(t, ps, tu.u)
		if port < lo+2 || port > hi {
			t.Fatalf("the new user got port %d; want one of %d-%d, as %d and %d are held", port, lo+2, hi, lo, lo+1)
		}
		if r := probeAs(t, tu.u, port, "/api/versioninfo"); len(r) != 1 || r[0].Status != 200 {
			t.Errorf("the agent does not serve on its port %d: %+v", port, r)
		}
		if l := ps.log(); !strings.Contains(l, fmt.Sprintf(`"port":%d`, lo)) || !strings.Contains(l, "port-unusable") {
			t.Errorf("the held ports were not logged:\n%s", l)
		}
	})

	// While a user is away, the hog takes their kept port with a client
	// socket: the service keeps the port for them (it tests only ports it
	// hands out anew), their agent cannot bind it and is moved, and the
	// service names the hog.
	t.Run("a user's kept port", func(t *testing.T) {
		lo := testutil.QuietPorts(t, 30340, 10)
		hi := lo + 9
		ps := startPortService(t, filepath.Join(dir, "state-kept"), testutil.FreePort(t), lo, hi)
		tu := &testUser{u: namedUser(t, "cardbridge-u3")}
		startUserAgent(t, ps, tu, logDir)
		kept := stablePort(t, ps, tu.u)
		stopUserAgent(tu)
		holdPortsAs(t, hog, kept)
		startUserAgent(t, ps, tu, logDir)
		port := stablePort(t, ps, tu.u)
		if port == kept {
			t.Fatalf("%s still has port %d, which %s holds", tu.u.Username, kept, hog.Username)
		}
		if r := probeAs(t, tu.u, port, "/api/versioninfo"); len(r) != 1 || r[0].Status != 200 {
			t.Errorf("the agent does not serve on its new port %d: %+v", port, r)
		}
		if l, want := ps.log(), fmt.Sprintf(`"event":"port-squatted","port":%d,"squatter":"uid:%s"`, kept, hog.Uid); !strings.Contains(l, want) {
			t.Errorf("the port service log lacks %s:\n%s", want, l)
		}
	})

	t.Run("the whole range", func(t *testing.T) {
		lo := testutil.QuietPorts(t, 30320, 10)
		hi := lo + 9
		var all []int
		for p := lo; p <= hi; p++ {
			all = append(all, p)
		}
		holdPortsAs(t, hog, all...)
		state := filepath.Join(dir, "state-all")
		ps := startPortService(t, state, testutil.FreePort(t), lo, hi)
		tu := &testUser{u: namedUser(t, "cardbridge-u2")}
		startUserAgent(t, ps, tu, logDir)
		port := stablePort(t, ps, tu.u)
		if port >= lo && port <= hi {
			t.Fatalf("the new user got port %d inside the range %d-%d that %s holds entirely", port, lo, hi, hog.Username)
		}
		if r := probeAs(t, tu.u, port, "/api/versioninfo"); len(r) != 1 || r[0].Status != 200 {
			t.Errorf("the agent does not serve on its port %d: %+v", port, r)
		}
		data, err := os.ReadFile(filepath.Join(state, "PortStore.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("uid:%s\t%d\t", tu.u.Uid, port); !strings.Contains(string(data), want) || !strings.Contains(string(data), "\toutside\n") {
			t.Errorf("PortStore.txt does not keep %s's port %d marked outside:\n%s", tu.u.Username, port, data)
		}
		if l := ps.log(); !strings.Contains(l, "range-exhausted") {
			t.Errorf("the exhausted range was not logged:\n%s", l)
		}
		// The service restarted reads the port back: the user keeps it.
		ps.stop(t)
		ps.start(t)
		if p := stablePort(t, ps, tu.u); p != port {
			t.Errorf("after a restart the user's port is %d, was %d", p, port)
		}
	})
}
