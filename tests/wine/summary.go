//go:build ignore

// Summary reads `go test -json` output on standard input and prints, for
// each package, whether it passed and how many tests passed, were skipped and
// failed; then every skipped test with its reason, and the output of every
// failed test or package. It exits 1 if anything failed or the input holds no
// test results. scripts/test-windows runs it with `go run`.
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
}

func main() {
	pkgs := map[string]*pkgResult{}
	get := func(name string) *pkgResult {
		p := pkgs[name]
		if p == nil {
			p = &pkgResult{testOut: map[string][]string{}, done: map[string]bool{}}
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

	for _, n := range names {
		p := pkgs[n]
		for _, t := range p.skipped {
			fmt.Printf("skipped %s %s: %s\n", n, t, skipReason(p.testOut[t]))
		}
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
