package policy

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Group Policy template shipped in the MSI (installer/windows/admx).
var (
	admxPath = filepath.Join("..", "installer", "windows", "admx", "cardbridge.admx")
	admlDir  = filepath.Join("..", "installer", "windows", "admx")
)

type admxElement struct {
	XMLName   xml.Name
	ID        string  `xml:"id,attr"`
	ValueName string  `xml:"valueName,attr"`
	Key       string  `xml:"key,attr"`
	Prefix    *string `xml:"valuePrefix,attr"`
	Items     []struct {
		DisplayName string `xml:"displayName,attr"`
		Value       struct {
			String string `xml:"string"`
		} `xml:"value"`
	} `xml:"item"`
}

type admx struct {
	Target struct {
		Prefix    string `xml:"prefix,attr"`
		Namespace string `xml:"namespace,attr"`
	} `xml:"policyNamespaces>target"`
	Supported []struct {
		Name        string `xml:"name,attr"`
		DisplayName string `xml:"displayName,attr"`
	} `xml:"supportedOn>definitions>definition"`
	Categories []struct {
		Name        string `xml:"name,attr"`
		DisplayName string `xml:"displayName,attr"`
	} `xml:"categories>category"`
	Policies []struct {
		Name         string `xml:"name,attr"`
		Class        string `xml:"class,attr"`
		DisplayName  string `xml:"displayName,attr"`
		ExplainText  string `xml:"explainText,attr"`
		Presentation string `xml:"presentation,attr"`
		Key          string `xml:"key,attr"`
		Category     struct {
			Ref string `xml:"ref,attr"`
		} `xml:"parentCategory"`
		SupportedOn struct {
			Ref string `xml:"ref,attr"`
		} `xml:"supportedOn"`
		Elements struct {
			Any []admxElement `xml:",any"`
		} `xml:"elements"`
	} `xml:"policies>policy"`
}

type adml struct {
	Strings []struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"resources>stringTable>string"`
	Presentations []struct {
		ID       string `xml:"id,attr"`
		Controls []struct {
			XMLName xml.Name
			RefID   string `xml:"refId,attr"`
		} `xml:",any"`
	} `xml:"resources>presentationTable>presentation"`
}

// decodeStrict parses an XML file whole, failing on anything not
// well-formed (encoding/xml stops at the first error).
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	for {
		_, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
	}
	if err := xml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var stringRef = regexp.MustCompile(`^\$\(string\.([A-Za-z0-9_]+)\)$`)

// Every policy of the template is a setting cardbridge reads, at the
// registry value it reads, with the element its kind needs and the class
// its scope allows; every setting cardbridge reads is in the template; every
// language's strings and presentations resolve.
func TestADMXMatchesSettings(t *testing.T) {
	var a admx
	decodeStrict(t, admxPath, &a)
	if a.Target.Prefix != "cardbridge" || a.Target.Namespace == "" {
		t.Errorf("target namespace %+v", a.Target)
	}
	strs := map[string]bool{}         // string ids the ADMX uses
	presents := map[string][]string{} // presentation id -> element ids it must show
	use := func(ref string) {
		m := stringRef.FindStringSubmatch(ref)
		if m == nil {
			t.Errorf("%q is not a $(string.ID) reference", ref)
			return
		}
		strs[m[1]] = true
	}
	for _, c := range a.Categories {
		use(c.DisplayName)
	}
	for _, s := range a.Supported {
		use(s.DisplayName)
	}
	seen := map[string]bool{}
	for _, p := range a.Policies {
		st, ok := Lookup(p.Name)
		if !ok || st.Name != p.Name {
			t.Errorf("the template's policy %q is not a setting cardbridge reads", p.Name)
			continue
		}
		seen[p.Name] = true
		use(p.DisplayName)
		use(p.ExplainText)
		if p.Key != Key {
			t.Errorf("%s: key %q, cardbridge reads %q", p.Name, p.Key, Key)
		}
		wantClass := "Machine"
		if st.PerUser {
			wantClass = "Both"
		}
		if p.Class != wantClass {
			t.Errorf("%s: class %q, want %q", p.Name, p.Class, wantClass)
		}
		if p.Category.Ref != "cardbridge" || p.SupportedOn.Ref == "" {
			t.Errorf("%s: category %q, supportedOn %q", p.Name, p.Category.Ref, p.SupportedOn.Ref)
		}
		if len(p.Elements.Any) != 1 {
			t.Errorf("%s: %d elements, want 1", p.Name, len(p.Elements.Any))
			continue
		}
		e := p.Elements.Any[0]
		pres := strings.TrimSuffix(strings.TrimPrefix(p.Presentation, "$(presentation."), ")")
		presents[pres] = append(presents[pres], e.ID)
		switch kind := e.XMLName.Local; {
		case st.Kind == List && kind == "list":
			if e.Key != Key+`\`+st.Name || e.Prefix == nil || *e.Prefix != "" {
				t.Errorf("%s: list key %q prefix %v; cardbridge reads values 1, 2, ... of %s", p.Name, e.Key, e.Prefix, Key+`\`+st.Name)
			}
		case st.Kind == Text && (kind == "text" || kind == "enum"):
			if e.ValueName != st.Name {
				t.Errorf("%s: valueName %q", p.Name, e.ValueName)
			}
			for _, it := range e.Items {
				use(it.DisplayName)
				if st.Name == "LogLevel" && !strings.Contains(" debug info warn error ", " "+it.Value.String+" ") {
					t.Errorf("LogLevel item %q is not a level cardbridge takes", it.Value.String)
				}
			}
		case st.Kind == Number && kind == "decimal":
			if e.ValueName != st.Name {
				t.Errorf("%s: valueName %q", p.Name, e.ValueName)
			}
		default:
			t.Errorf("%s: a <%s> element for a setting of kind %d", p.Name, kind, st.Kind)
		}
	}
	for _, st := range Settings {
		if !seen[st.Name] {
			t.Errorf("cardbridge reads the %s policy, which the template lacks", st.Name)
		}
	}

	langs, err := filepath.Glob(filepath.Join(admlDir, "*", "cardbridge.adml"))
	if err != nil || len(langs) == 0 {
		t.Fatalf("no ADML files (%v)", err)
	}
	for _, path := range langs {
		var l adml
		decodeStrict(t, path, &l)
		have := map[string]bool{}
		for _, s := range l.Strings {
			if strings.TrimSpace(s.Text) == "" {
				t.Errorf("%s: string %s is empty", path, s.ID)
			}
			have[s.ID] = true
		}
		for id := range strs {
			if !have[id] {
				t.Errorf("%s lacks the string %s", path, id)
			}
		}
		shown := map[string]map[string]bool{}
		for _, p := range l.Presentations {
			shown[p.ID] = map[string]bool{}
			for _, c := range p.Controls {
				shown[p.ID][c.RefID] = true
			}
		}
		for pres, ids := range presents {
			for _, id := range ids {
				if !shown[pres][id] {
					t.Errorf("%s: presentation %s does not show element %s", path, pres, id)
				}
			}
		}
	}
}
