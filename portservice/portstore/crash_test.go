package portstore

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/portservice"
)

// crashEnv, when set to a file path, makes TestCrash the child: it allocates
// ports in that file until killed.
const crashEnv = "PORTSTORE_CRASH_CHILD"

// Crash test parameters: the child's port range and goroutines, the number of
// kills and the time they may take in all.
const (
	crashLo, crashHi = 10000, 60000
	crashGoroutines  = 4
	crashKills       = 30
	crashBudget      = 20 * time.Second
)

// TestCrash kills a process that is allocating ports, at random moments, and
// checks that every allocation it acknowledged is in the file afterwards.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	if testing.Short() {
		t.Skip("takes about 20 seconds")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary:", err)
	}
	path := filepath.Join(t.TempDir(), storeName)
	acked := map[string]int{} // every acknowledged allocation, across all children
	start := time.Now()
	var kills, acks, reAcks, silent int
	perKill := crashBudget / crashKills
	for kills < crashKills {
		cmd := exec.Command(exe, "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan [][]string, 1)
		go func() { lines <- readAcks(stdout) }()

		// Kill at a random moment of the run's share of the budget, often while
		// the child is still opening the store and writing its first ports.
		time.Sleep(rand.N(perKill - 50*time.Millisecond))
		cmd.Process.Kill()
		got := <-lines
		werr := cmd.Wait()
		if !strings.Contains(fmt.Sprint(werr), "killed") {
			t.Fatalf("child ended by itself (%v) before the kill:\n%s", werr, stderr.String())
		}
		kills++
		if len(got) == 0 {
			silent++
		}
		for _, l := range got {
			user, port := l[0], mustAtoi(t, l[1])
			if old, ok := acked[user]; ok {
				reAcks++
				if old != port {
					t.Errorf("kill %d: %s was acknowledged on %d, earlier on %d", kills, user, port, old)
				}
			}
			acked[user] = port
			acks++
		}

		var log logSink
		s, err := Open(Options{Path: path, Range: portservice.Range{Lo: crashLo, Hi: crashHi}, Logger: log.logger()})
		if err != nil {
			t.Fatalf("kill %d: Open: %v", kills, err)
		}
		if w := log.level("warn"); len(w) != 0 {
			t.Errorf("kill %d: the file needed repair:\n%s", kills, &log)
		}
		for user, port := range acked {
			if e, ok := s.Lookup(user); !ok || e.Port != port {
				t.Fatalf("kill %d: acknowledged %s on %d, store has %v, %v", kills, user, port, e, ok)
			}
		}
		byPort := map[int]string{}
		for _, e := range s.Entries() {
			if u, dup := byPort[e.Port]; dup {
				t.Fatalf("kill %d: port %d held by %s and %s", kills, e.Port, u, e.User)
			}
			byPort[e.Port] = e.User
		}
		if n := tempFiles(t, filepath.Dir(path)); len(n) != 0 {
			t.Errorf("kill %d: Open left %q", kills, n)
		}
		if time.Since(start) > crashBudget+10*time.Second {
			t.Logf("stopping after %d kills: over the time budget", kills)
			break
		}
	}
	t.Logf("%d kills (%d before the child's first ACK) in %v; %d ACKs checked: %d users' first, %d repeats by a later child on the same port; all on disk after every kill",
		kills, silent, time.Since(start).Round(time.Millisecond), acks, len(acked), reAcks)
	if len(acked) == 0 {
		t.Errorf("no allocation was acknowledged before any kill")
	}
}

// readAcks returns the user and port of each complete "ACK user port" line
// read from r until EOF; a line cut short by the kill is not an ACK.
func readAcks(r io.Reader) [][]string {
	var out [][]string
	br := bufio.NewReader(r)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return out
		}
		if f := strings.Fields(l); len(f) == 3 && f[0] == "ACK" {
			out = append(out, f[1:])
		}
	}
}

// mustAtoi parses a decimal number.
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad ACK port %q", s)
	}
	return n
}

// crashChild allocates ports for uid:100000, uid:100001, ... from several
// goroutines, printing "ACK user port" after each Allocate returns, until it
// is killed (or, should the parent be gone, for a minute).
func crashChild(path string) {
	s, err := Open(Options{Path: path, Range: portservice.Range{Lo: crashLo, Hi: crashHi}, Logger: zerolog.New(os.Stderr)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var next atomic.Int64
	var out sync.Mutex
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for range crashGoroutines {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				user := "uid:" + strconv.FormatInt(100000+next.Add(1)-1, 10)
				e, err := s.Allocate(user, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				out.Lock()
				// One write per line, unbuffered: the parent sees it at once.
				os.Stdout.WriteString("ACK " + e.User + " " + strconv.Itoa(e.Port) + "\n")
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}
