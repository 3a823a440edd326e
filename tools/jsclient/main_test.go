package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
)

// root is the repository root, from this package's directory.
const root = "../.."

// TestGeneratedFilesAreCurrent: the UMD script the agent serves, the npm
// package's script and module are what the source makes today.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stale {
		t.Errorf("%s is out of date with %s: run `go run ./tools/jsclient` (or `go generate ./httpapi`) from the repository root", name, Source)
	}
	if len(files) < 4 {
		t.Errorf("generated only %d files", len(files))
	}
}

// TestExportsParse: the export list is read from the source's closing
// return, and a malformed one is an error, not an empty list.
func TestExportsParse(t *testing.T) {
	got, err := Exports([]byte("const a = 1;\nreturn {\n  connect: connect,\n  Client: Client,\n};\n"))
	if err != nil || !slices.Equal(got, []string{"connect", "Client"}) {
		t.Errorf("Exports = %v, %v", got, err)
	}
	for _, bad := range []string{"return { connect };\n", "return {\n  connect: other,\n};\n", "no return\n"} {
		if got, err := Exports([]byte(bad)); err == nil {
			t.Errorf("Exports(%q) = %v, want an error", bad, got)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTypesDeclareEveryExport: cardbridge.d.ts declares each export of the
// source, and no value the source does not export.
func TestTypesDeclareEveryExport(t *testing.T) {
	names, err := Exports([]byte(readFile(t, Source)))
	if err != nil {
		t.Fatal(err)
	}
	dts := readFile(t, "web/cardbridge.d.ts")
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^export declare (?:const|function|class) ([A-Za-z_$][A-Za-z0-9_$]*)`).FindAllStringSubmatch(dts, -1) {
		declared = append(declared, m[1])
	}
	slices.Sort(names)
	declared = slices.Compact(slices.Sorted(slices.Values(declared)))
	if !slices.Equal(names, declared) {
		t.Errorf("web/cardbridge.d.ts declares %v; %s exports %v", declared, Source, names)
	}
}

// TestErrorCodes: the source's ERROR_CODES, the ErrorCode union of the
// types and api/errors.go with the browser's codes are the same list.
func TestErrorCodes(t *testing.T) {
	src := readFile(t, Source)
	m := regexp.MustCompile(`(?s)const ERROR_CODES = Object\.freeze\(\[(.*?)\]\);`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("%s has no `const ERROR_CODES = Object.freeze([...]);`", Source)
	}
	var inSource []string
	for _, q := range regexp.MustCompile(`"([A-Z_]+)"`).FindAllStringSubmatch(m[1], -1) {
		inSource = append(inSource, q[1])
	}

	dts := readFile(t, "web/cardbridge.d.ts")
	union := func(name string) []string {
		m := regexp.MustCompile(`(?s)export type ` + name + ` =(.*?);`).FindStringSubmatch(dts)
		if m == nil {
			t.Fatalf("web/cardbridge.d.ts has no type %s", name)
		}
		var out []string
		for _, q := range regexp.MustCompile(`"([A-Z_]+)"`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, q[1])
		}
		return out
	}
	agent, browser := union("AgentErrorCode"), union("BrowserErrorCode")
	if want := apiCodes(); !slices.Equal(sorted(agent), sorted(want)) {
		t.Errorf("AgentErrorCode in cardbridge.d.ts is %v; api/errors.go defines %v", agent, want)
	}
	if !slices.Equal(sorted(browser), []string{"LOCAL_NETWORK_DENIED", "NOT_RUNNING", "TIMEOUT"}) {
		t.Errorf("BrowserErrorCode is %v", browser)
	}
	if all := append(slices.Clone(agent), browser...); !slices.Equal(sorted(inSource), sorted(all)) {
		t.Errorf("ERROR_CODES in %s is %v; the types name %v", Source, inSource, all)
	}
	// Every code the client itself makes is in the list.
	for _, q := range regexp.MustCompile(`new CardBridgeError\("([A-Z_]+)"`).FindAllStringSubmatch(src, -1) {
		if !slices.Contains(inSource, q[1]) {
			t.Errorf("%s makes a CardBridgeError %s, which ERROR_CODES does not list", Source, q[1])
		}
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// apiCodes are the API's error codes (api.Codes).
func apiCodes() []string {
	var out []string
	for _, c := range api.Codes {
		out = append(out, string(c))
	}
	return out
}

// needNodeModules skips t when web/node_modules is missing, unless the
// browser tests are enabled (their set-up installs it), when it fails.
func needNodeModules(t *testing.T) string {
	t.Helper()
	tsc, _ := filepath.Abs(filepath.Join(root, "web", "node_modules", ".bin", "tsc"))
	if _, err := os.Stat(tsc); err != nil {
		if os.Getenv("CARDBRIDGE_TEST_BROWSER") == "1" {
			t.Fatalf("TypeScript is not installed in web/node_modules (%v): run tests/browser/setup.sh (npm ci in web)", err)
		}
		t.Skip("TypeScript is not installed: run tests/browser/setup.sh (npm ci in web), or ./scripts/test")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no Node.js:", err)
	}
	return tsc
}

// TestTypesCompile: the example page, which uses every call, compiles
// with tsc --strict against cardbridge.d.ts, through the package's own
// name and exports map.
func TestTypesCompile(t *testing.T) {
	tsc := needNodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tsc, "--strict", "--noEmit", "-p", "tsconfig.json")
	cmd.Dir = filepath.Join(root, "web")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc --strict --noEmit -p web/tsconfig.json: %v\n%s", err, out)
	}
}

// TestScriptAndModuleAgree: in Node.js, the UMD script (as CommonJS) and
// the ES module export the same names and error codes.
func TestScriptAndModuleAgree(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no Node.js:", err)
	}
	web, _ := filepath.Abs(filepath.Join(root, "web"))
	script := `
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const umd = require(` + strconv.Quote(filepath.Join(web, "cardbridge.js")) + `);
const esm = await import(` + strconv.Quote("file://"+filepath.Join(web, "cardbridge.mjs")) + `);
const e = new esm.CardBridgeError("NO_CARD", "no card", 404);
console.log(JSON.stringify({
  umd: Object.keys(umd).sort(), esm: Object.keys(esm).sort(),
  codes: [umd.ERROR_CODES, esm.ERROR_CODES],
  error: {isError: e instanceof Error, name: e.name, code: e.code, status: e.status, message: e.message},
}));`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		UMD, ESM []string
		Codes    [2][]string
		Error    struct {
			IsError             bool
			Name, Code, Message string
			Status              int
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if !slices.Equal(got.UMD, got.ESM) || len(got.UMD) < 6 {
		t.Errorf("the script exports %v, the module %v", got.UMD, got.ESM)
	}
	if !slices.Equal(got.Codes[0], got.Codes[1]) || !slices.Contains(got.Codes[0], "LOCAL_NETWORK_DENIED") {
		t.Errorf("ERROR_CODES: script %v, module %v", got.Codes[0], got.Codes[1])
	}
	if e := got.Error; !e.IsError || e.Name != "CardBridgeError" || e.Code != "NO_CARD" || e.Status != 404 || e.Message != "no card" {
		t.Errorf("new CardBridgeError(...) = %+v", e)
	}
	if strings.Contains(readFile(t, "web/cardbridge.mjs"), "module.exports") {
		t.Error("the ES module mentions module.exports")
	}
}
