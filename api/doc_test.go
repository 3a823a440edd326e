package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// codeRow is a row of the error code table in docs/API.md.
var codeRow = regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| [0-9]")

// TestAPIReferenceListsEveryCode: docs/API.md documents exactly the codes
// errors.go defines, so neither can change without the other.
func TestAPIReferenceListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range codeRow.FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	defined := definedCodes(t)
	for _, c := range defined {
		if !slices.Contains(documented, c) {
			t.Errorf("error code %s (api/errors.go) is not in docs/API.md's table", c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(defined, c) {
			t.Errorf("docs/API.md documents %s, which api/errors.go does not define", c)
		}
	}
	if len(defined) < 13 {
		t.Errorf("found only %d codes in api/errors.go: %v", len(defined), defined)
	}
	var listed []string
	for _, c := range Codes {
		listed = append(listed, string(c))
	}
	if !slices.Equal(listed, defined) {
		t.Errorf("api.Codes is %v; errors.go defines %v", listed, defined)
	}
}

// definedCodes reads the Code constants of errors.go from its source.
func definedCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, s)
			}
		}
		return true
	})
	return out
}

// sdkRow is a row of the JavaScript client's error code table in
// docs/API.md: the code, then where it comes from.
var sdkRow = regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| (agent|browser|agent, browser) \\|")

// sdkCodes are the codes of the JavaScript client's source.
var sdkCodes = regexp.MustCompile(`(?s)const ERROR_CODES = Object\.freeze\(\[(.*?)\]\);`)

// TestAPIReferenceListsEverySDKCode: the JavaScript client's error table
// in docs/API.md lists exactly the codes of its ERROR_CODES, and those
// hold every code errors.go defines.
func TestAPIReferenceListsEverySDKCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../web/src/cardbridge.js")
	if err != nil {
		t.Fatal(err)
	}
	m := sdkCodes.FindSubmatch(src)
	if m == nil {
		t.Fatal("web/src/cardbridge.js has no `const ERROR_CODES = Object.freeze([...]);`")
	}
	var client []string
	for _, q := range regexp.MustCompile(`"([A-Z_]+)"`).FindAllSubmatch(m[1], -1) {
		client = append(client, string(q[1]))
	}
	var documented []string
	for _, r := range sdkRow.FindAllSubmatch(doc, -1) {
		documented = append(documented, string(r[1]))
	}
	slices.Sort(client)
	slices.Sort(documented)
	if !slices.Equal(client, documented) {
		t.Errorf("docs/API.md's JavaScript client table lists %v; ERROR_CODES in web/src/cardbridge.js is %v", documented, client)
	}
	for _, c := range definedCodes(t) {
		if !slices.Contains(client, c) {
			t.Errorf("error code %s (api/errors.go) is not in the JavaScript client's ERROR_CODES", c)
		}
	}
}
