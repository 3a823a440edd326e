package agent

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/cardbridge/cardbridge/pcsc"
)

// eventRow is a row of the event table in docs/API.md.
var eventRow = regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| [a-z]")

// TestAPIReferenceListsEveryEvent: docs/API.md documents exactly the event
// types pages receive: pcsc's and the agent's own.
func TestAPIReferenceListsEveryEvent(t *testing.T) {
	doc, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range eventRow.FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	sent := []string{TypeSnapshot, TypeCardUpdated}
	for t := pcsc.EventType(1); t.String() != "unknown"; t++ {
		sent = append(sent, t.String())
	}
	slices.Sort(sent)
	slices.Sort(documented)
	if !slices.Equal(sent, documented) {
		t.Errorf("docs/API.md documents events %v; pages are sent %v", documented, sent)
	}
}
