//go:build linux && cgo

// Package tests holds cardbridge's integration tests: the product's own
// packages and binaries driven through a real pcscd, the vpcd virtual reader
// driver and virtual PIV cards (package vcard). They run when
// CARDBRIDGE_TEST_PCSCD=1 (see package testbed); ./scripts/test sets it.
package tests

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/tests/testbed"
)

// bed is the package's private pcscd, or nil when the tests are skipped.
var bed *testbed.PCSCD

// binDir holds the cardbridge binaries built for the tests.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv(testbed.EnvVar) != "1" {
		return m.Run() // every test skips itself through needPCSCD
	}
	dir, err := os.MkdirTemp("", "cardbridge-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Other OS users run binaries from here.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", binDir+"/", "../cmd/cardbridge", "../tools/probe", "../tools/refserver", "../tools/fakepinentry")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build cardbridge: %v\n%s", err, out)
		return 1
	}
	// The port service and the supervisor as the packages ship them:
	// without cgo, which they do not need.
	build = exec.Command("go", "build", "-o", binDir+"/", "../cmd/cardbridge-portservice", "../cmd/cardbridge-supervisor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build cardbridge-portservice and cardbridge-supervisor: %v\n%s", err, out)
		return 1
	}
	bed, err = testbed.Start(filepath.Join(dir, "pcscd"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start pcscd:", err)
		return 1
	}
	defer bed.Stop()
	return m.Run()
}

// needPCSCD skips t unless the private pcscd runs, and makes sure it is up
// with the default readers when t starts and again when it ends.
func needPCSCD(t testing.TB) {
	t.Helper()
	testbed.Require(t)
	if bed == nil {
		t.Fatal("the private pcscd did not start")
	}
	if b, ok := t.(*testing.B); ok {
		boundBench(b, benchLimit)
	}
	restore := func() {
		if r := bed.Readers(); len(r) != 2 || r[0] != reader0 {
			_ = bed.Stop()
			if err := bed.SetSlots(testbed.DefaultSlot); err != nil {
				t.Fatal(err)
			}
		}
		_ = bed.Start() // an error means it was running already
		// Let pcscd notice that the last test's cards are gone.
		for _, r := range bed.Readers() {
			waitPresent(t, r, false)
		}
	}
	restore()
	t.Cleanup(restore)
}

var (
	reader0 = testbed.DefaultSlot.Reader(0)
	reader1 = testbed.DefaultSlot.Reader(1)
)

// testCard describes a virtual card to make.
type testCard struct {
	uuid  string
	alg   string // rsa2048 (default) or p256
	fault vcard.Fault
	delay time.Duration
	gzip  bool
	atr   []byte
	pin   string // default 123456
	// pinResetSW makes a card that refuses VERIFY P1=FF with this status
	// word (vcard.Config.PINResetSW); 0 is a card that takes it.
	pinResetSW uint16
}

// newCard makes a virtual card; it is removed when the test ends.
func newCard(t testing.TB, tc testCard) (*vcard.Card, *x509.Certificate, crypto.Signer) {
	t.Helper()
	if tc.alg == "" {
		tc.alg = "rsa2048"
	}
	der, key, err := vcard.NewIdentity(tc.alg, vcard.NHSSubject(tc.uuid), time.Now().Add(365*24*time.Hour).Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var logf func(string, ...any)
	if tt, ok := t.(*testing.T); ok {
		logf = tt.Logf // shown when the test fails
	}
	c := vcard.New(vcard.Config{Logf: logf, ATR: tc.atr, Certificate: der, Key: key, Compress: tc.gzip, Fault: tc.fault, Delay: tc.delay, PIN: cmp.Or(tc.pin, "123456"), Retries: 3, PINResetSW: tc.pinResetSW})
	t.Cleanup(func() { _ = c.Remove() })
	return c, cert, key
}

// insert puts c into reader i of the default slot and waits until pcscd
// reports it present. It first waits for pcscd to see the reader empty: a
// card pulled and another pushed within one of pcscd's polls would look like
// the same card.
func insert(t testing.TB, c *vcard.Card, i int) {
	t.Helper()
	waitPresent(t, testbed.DefaultSlot.Reader(i), false)
	if err := c.Insert(testbed.DefaultSlot.Addr(i)); err != nil {
		t.Fatal(err)
	}
	waitPresent(t, testbed.DefaultSlot.Reader(i), true)
}

// remove takes c out and waits until pcscd reports reader i empty.
func remove(t testing.TB, c *vcard.Card, i int) {
	t.Helper()
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	waitPresent(t, testbed.DefaultSlot.Reader(i), false)
}

// waitPresent polls pcscd until reader's card presence is want.
func waitPresent(t testing.TB, reader string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rs, err := pcsc.Readers(ctx)
		cancel()
		if err == nil {
			for _, r := range rs {
				if r.Name == reader && r.CardPresent == want {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader %q: card present never became %v (last %v, %v)", reader, want, rs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate ends a child the test started: SIGTERM, then SIGKILL if it has
// not exited within 10 s. done is closed when the child's Wait returns. It
// reports whether the child had to be killed.
func terminate(cmd *exec.Cmd, done <-chan struct{}) (killed bool) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return false
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return true
	}
}
