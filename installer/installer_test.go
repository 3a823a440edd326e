package installer

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAgentExecutable: installing the login start needs the agent program
// beside the port service, and, where the login entry starts it, the
// supervisor too, or the entry would start nothing.
func TestAgentExecutable(t *testing.T) {
	exe := func(name string) string {
		if runtime.GOOS == "windows" {
			return name + ".exe"
		}
		return name
	}
	dir := t.TempDir()
	service := filepath.Join(dir, exe("cardbridge-portservice"))
	agent := filepath.Join(dir, exe("cardbridge"))
	touch := func(path string) {
		if err := os.WriteFile(path, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	touch(service)
	if _, err := AgentExecutable(service); err == nil || !strings.Contains(err.Error(), "the agent program "+exe("cardbridge")+" is not beside") {
		t.Errorf("without the agent: %v", err)
	}
	touch(agent)
	got, err := AgentExecutable(service)
	if runtime.GOOS != "darwin" {
		if err == nil || !strings.Contains(err.Error(), exe("cardbridge-supervisor")+", which keeps the agent running, is not beside") {
			t.Errorf("without the supervisor: %q, %v", got, err)
		}
		touch(filepath.Join(dir, exe("cardbridge-supervisor")))
		got, err = AgentExecutable(service)
	}
	if err != nil || got != agent {
		t.Errorf("AgentExecutable = %q, %v; want %q", got, err, agent)
	}
	if sup := SupervisorProgram(agent); sup != filepath.Join(dir, exe("cardbridge-supervisor")) {
		t.Errorf("SupervisorProgram = %q", sup)
	}
}
