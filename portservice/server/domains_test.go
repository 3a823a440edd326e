package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

func TestLoadDomains(t *testing.T) {
	good := "# version: 3\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"
	cases := []struct {
		name     string
		content  *string // nil: no file
		want     []string
		version  string
		rewrites bool
	}{
		{"missing", nil, []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"empty", ptr(""), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"clean", ptr(good), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "3", false},
		{"binary", ptr("\x00\xff\xfe\x01garbage\x00\n\x7f"), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"some bad lines", ptr("# version: 4\nhttps://a.example\nnot a url\n*.uk\nhttps://b.example:8443\n"), []string{"https://a.example", "https://b.example:8443"}, "4", true},
		{"truncated", ptr("# version: 5\nhttps://a.example\nhttps://b.exa"), []string{"https://a.example", "https://b.exa"}, "5", true},
		{"duplicates and CRLF", ptr("https://a.example\r\nhttps://a.example\r\n"), []string{"https://a.example"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DomainList.txt")
			if c.content != nil {
				if err := os.WriteFile(path, []byte(*c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs testutil.Buffer
			list := loadDomains(path, zerolog.New(&logs))
			var got []string
			for _, p := range list.Patterns() {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") || list.Version() != c.version {
				t.Errorf("list = %v version %q, want %v version %q", got, list.Version(), c.want, c.version)
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.rewrites {
				if !bytes.Equal(disk, list.Format()) {
					t.Errorf("file not rewritten clean:\n%q", disk)
				}
				if _, bad := domainlist.Parse(disk); len(bad) > 0 {
					t.Errorf("rewritten file still has bad lines: %v", bad)
				}
			} else if string(disk) != *c.content {
				t.Errorf("a clean file was rewritten: %q", disk)
			}
		})
	}
}

func ptr(s string) *string { return &s }
