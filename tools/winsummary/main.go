// Command winsummary reads `go test -json` output on standard input and prints, for
// each package, whether it passed and how many tests passed, were skipped and
// failed; then every skipped test with its reason, and the output of every
// failed test or package. It exits 1 if anything failed, if a test skipped
// that expectedSkips does not list with the reason it gave, or if the input
// holds no test results. scripts/test-windows runs it with `go run` on the
// unit tests it ran under Wine.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64
}

type pkgResult struct {
	action              string // pass, fail, skip (no tests), or "" if never finished
	elapsed             float64
	pass, skip, fail    int // top-level tests
	subSkip             int
	started             []string            // every test, in order
	done                map[string]bool     // tests that passed, failed or skipped
	out                 []string            // package-level output
	testOut             map[string][]string // per test
	skipped, failedTest []string            // in order
	passed              map[string]bool
}

// module is the prefix of every package's import path.
const module = "github.com/cardbridge/cardbridge/"

// expectedSkip is a test that may skip under Wine in the lane: its package
// (without module), its name as go test -json gives it (a subtest's spaces
// as underscores), and a piece of the reason it gives.
type expectedSkip struct{ pkg, test, reason string }

// expectedSkips are the only skips the Windows unit tests may make under
// Wine 10 in the trixie root (seen there); any other skip fails the step, so
// that a test that stops running is noticed. A skip for what a Wine release
// lacks names the release (internal/wine); a test that runs where it used
// to skip is fine, and reported so that it can leave this list.
var expectedSkips = []expectedSkip{
	// Not on Windows at all: Unix file modes, execute bits, FIFOs, device
	// and inode numbers, SIGKILL, systemd.
	{"atomicfile", "TestWritePerm", "Windows file modes are only the read-only bit"},
	{"cmd/cardbridge", "TestAgentRefusesANonExecutablePinentry", "Windows files have no execute bit"},
	{"cmd/cardbridge-portservice", "TestInstallFixedPathsOnLinux", "systemd fixes the paths only on Linux"},
	{"installer", "TestUnitsVerify", "systemd-analyze is not installed"},
	{"internal/testutil", "TestMkfifo/mkfifo", "no named pipes in the file system"},
	{"logging", "TestJournalStreamMatches", "no device and inode numbers here"},
	{"portservice/portstore", "TestCrash", "needs SIGKILL"},
	{"portservice/portstore", "TestOpenReadOnlyDirectory", "needs Unix permissions"},
	{"portservice/portstore", "TestOpenNotARegularFile/named_pipe", "no named pipes in the file system"},
	{"portservice/server", "TestLoadDomainsNotARegularFile/named_pipe", "no named pipes in the file system"},
	{"portservice/server", "TestServiceWithBadStateFiles/PortStore.txt_is_a_named_pipe", "no named pipes in the file system"},
	{"portservice/server", "TestServiceWithBadStateFiles/DomainList.txt_is_a_named_pipe", "no named pipes in the file system"},
	// Agents on Windows do not restart onto an upgrade.
	{"agentd", "TestRunVersion", "agents do not restart onto upgrades here"},

	// Deliberate: the subtest checks that testutil.Symlink skips where no
	// link can be made (under Wine 10 it skips as the links below do).
	{"internal/testutil", "TestSymlink/path_taken:_skipped", ""},

	// What Wine 10 lacks, found by trying (wine.Lacks names the release).
	// CreateSymbolicLinkW is a stub that reports success: no link is made.
	{"internal/testutil", "TestSymlink/link_made", noSymlinks},
	{"atomicfile", "TestReadRegular/symbolic_link_to_a_file_outside", noSymlinks},
	{"atomicfile", "TestReadRegular/symbolic_link_to_a_file_beside_it", noSymlinks},
	{"portservice/portstore", "TestOpenNotARegularFile/symbolic_link_to_a_secret_outside", noSymlinks},
	{"portservice/portstore", "TestOpenNotARegularFile/symbolic_link_to_a_store_beside_it", noSymlinks},
	{"portservice/server", "TestLoadDomainsNotARegularFile/symbolic_link_to_a_secret", noSymlinks},
	{"portservice/server", "TestServiceWithBadStateFiles/PortStore.txt_is_a_symbolic_link_to_a_secret", noSymlinks},
	{"portservice/server", "TestServiceWithBadStateFiles/DomainList.txt_is_a_symbolic_link_to_a_secret", noSymlinks},
	// CreateNamedPipe ignores FILE_FLAG_FIRST_PIPE_INSTANCE: a second
	// server of a live pipe is not refused.
	{"portservice/localsock", "TestListenInUse", "lacks this (tried and failed here): CreateNamedPipe ignores FILE_FLAG_FIRST_PIPE_INSTANCE"},
	// Wine's token is not elevated (DESIGN.md), and these tests want an
	// administrator to change the services.
	{"installer", "TestLoginWindows", "needs administrator rights"},
	{"installer", "TestEnsureRecovery", "needs administrator rights"},

	// Programs the root does not have: the Go toolchain, Node.js, openssl,
	// a pinentry, headless Chromium (the Linux tests run these).
	{"cmd/cardbridge", "TestAgentLinksNoPortService", `no go command`},
	{"cmd/cardbridge-supervisor", "TestSmall", `no go command`},
	{"tools/notice", "TestNoticeIsCurrent", `no go command`},
	{"httpapi", "TestDiscoveryRemembersThePort", "no Node.js"},
	{"httpapi", "TestDiscoveryWithoutStorage", "no Node.js"},
	{"httpapi", "TestClientErrors", "no Node.js"},
	{"httpapi", "TestDiscoveryTrustsThePortService", "no Node.js"},
	{"tools/jsclient", "TestTypesCompile", "no Node.js"},
	// Before Node.js, it looks for web/node_modules, there in a checkout
	// where tests/browser/setup.sh or scripts/test ran.
	{"tools/jsclient", "TestTypesCompile", "TypeScript is not installed"},
	{"tools/jsclient", "TestScriptAndModuleAgree", "no Node.js"},
	{"webeid", "TestCreateVerifiesWithOpenSSL", "openssl is not installed"},
	{"webeid", "TestSignVerifiesWithOpenSSL", "openssl is not installed"},
	{"pinentry", "TestFindHere", "no pinentry installed"},
	{"signalr", "TestE2E", "needs headless Chromium"},
	{"signalr", "TestProxyE2E", "needs headless Chromium"},
	{"tests/browser", "TestPageTalksToAgent", "needs headless Chromium"},
	{"tests/browser", "TestForeignOriginRefused", "needs headless Chromium"},
	{"tests/browser", "TestLocalNetworkAccess", "needs headless Chromium"},
	{"tests/browser", "TestDriverFailureIsReported", "needs headless Chromium"},
	{"tests/browser", "TestEvalAndScreenshot", "needs headless Chromium"},
}

// noSymlinks is why a test that needs a symbolic link skips under Wine 10.
const noSymlinks = "lacks this (tried and failed here): os.Symlink (CreateSymbolicLinkW) reports success but makes no link"

// expected reports whether the skip of test in pkg, with reason, is listed.
func expected(pkg, test, reason string) bool {
	for _, e := range expectedSkips {
		if module+e.pkg == pkg && e.test == test && strings.Contains(reason, e.reason) {
			return true
		}
	}
	return false
}

func main() {
	pkgs := map[string]*pkgResult{}
	get := func(name string) *pkgResult {
		p := pkgs[name]
		if p == nil {
			p = &pkgResult{testOut: map[string][]string{}, done: map[string]bool{}, passed: map[string]bool{}}
			pkgs[name] = p
		}
		return p
	}
	var buildOut []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || (e.Package == "" && e.ImportPath == "") {
			// go test's own messages, not JSON.
			buildOut = append(buildOut, sc.Text())
			continue
		}
		if e.Action == "build-output" {
			buildOut = append(buildOut, strings.TrimRight(e.Output, "\n"))
			continue
		}
		if e.Package == "" {
			continue
		}
		p := get(e.Package)
		switch e.Action {
		case "run":
			p.started = append(p.started, e.Test)
		case "pass", "fail", "skip":
			p.done[e.Test] = true
			if e.Action == "pass" {
				p.passed[e.Test] = true
			}
		}
		switch {
		case e.Action == "output" && e.Test == "":
			p.out = append(p.out, strings.TrimRight(e.Output, "\n"))
		case e.Action == "output":
			p.testOut[e.Test] = append(p.testOut[e.Test], strings.TrimRight(e.Output, "\n"))
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			p.action, p.elapsed = e.Action, e.Elapsed
		case e.Action == "skip":
			p.skipped = append(p.skipped, e.Test)
			if strings.Contains(e.Test, "/") {
				p.subSkip++
			} else {
				p.skip++
			}
		case e.Action == "fail":
			p.failedTest = append(p.failedTest, e.Test)
			if !strings.Contains(e.Test, "/") {
				p.fail++
			}
		case e.Action == "pass" && !strings.Contains(e.Test, "/"):
			p.pass++
		}
	}

	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	failed, ran := false, 0
	var total [3]int
	for _, n := range names {
		p := pkgs[n]
		status := p.action
		switch {
		case status == "":
			status, failed = "FAIL (no result)", true
		case status == "fail":
			status, failed = "FAIL", true
		case status == "skip":
			fmt.Printf("%-6s %s (no tests)\n", "-", n)
			continue
		}
		ran++
		total[0] += p.pass
		total[1] += p.skip
		total[2] += p.fail
		sub := ""
		if p.subSkip > 0 {
			sub = fmt.Sprintf(" (and %d subtests skipped)", p.subSkip)
		}
		if n := p.unfinished(); n > 0 {
			sub += fmt.Sprintf(", %d did not finish", n)
		}
		fmt.Printf("%-6s %s  %d passed, %d skipped, %d failed%s, %.1fs\n", status, n, p.pass, p.skip, p.fail, sub, p.elapsed)
	}
	fmt.Printf("total: %d packages, %d tests passed, %d skipped, %d failed\n", ran, total[0], total[1], total[2])

	var unexpected []string
	for _, n := range names {
		p := pkgs[n]
		for _, t := range p.skipped {
			reason := skipReason(p.testOut[t])
			fmt.Printf("skipped %s %s: %s\n", n, t, reason)
			if !expected(n, t, reason) {
				unexpected = append(unexpected, fmt.Sprintf("%s %s: %s", n, t, reason))
			}
		}
	}
	noted := map[string]bool{}
	for _, e := range expectedSkips {
		if p := pkgs[module+e.pkg]; p != nil && p.passed[e.test] && !noted[e.pkg+" "+e.test] {
			noted[e.pkg+" "+e.test] = true
			fmt.Printf("note: %s %s is listed as an expected skip but passed: it can leave the list\n", e.pkg, e.test)
		}
	}
	if len(unexpected) > 0 {
		fmt.Printf("\n== %d tests skipped that nobody expected to (tools/winsummary lists the expected skips)\n", len(unexpected))
		for _, u := range unexpected {
			fmt.Println("unexpected skip:", u)
		}
		failed = true
	}
	if len(buildOut) > 0 {
		fmt.Println("\n== go test said:")
		fmt.Println(strings.Join(buildOut, "\n"))
	}
	for _, n := range names {
		p := pkgs[n]
		if p.action == "pass" || p.action == "skip" {
			continue
		}
		fmt.Printf("\n== %s failed\n", n)
		for _, t := range p.failedTest {
			fmt.Println(strings.Join(p.testOut[t], "\n"))
		}
		// A test still running when the binary died: a timeout's panic
		// and goroutines are its output.
		for _, t := range p.started {
			if !p.done[t] {
				fmt.Printf("-- %s did not finish\n%s\n", t, strings.Join(p.testOut[t], "\n"))
			}
		}
		fmt.Println(strings.Join(p.out, "\n"))
	}
	if ran == 0 {
		fmt.Println("no test results: did the tests run at all?")
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}

// unfinished counts the top-level tests that started but never ended.
func (p *pkgResult) unfinished() int {
	n := 0
	for _, t := range p.started {
		if !p.done[t] && !strings.Contains(t, "/") {
			n++
		}
	}
	return n
}

// skipReason returns what a skipped test logged, without the === and ---
// lines.
func skipReason(out []string) string {
	var r []string
	for _, l := range out {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		r = append(r, l)
	}
	if len(r) == 0 {
		return "(no reason given)"
	}
	return strings.Join(r, " ")
}
