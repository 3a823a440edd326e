package pinentry

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		installed []string
		want      string
	}{
		{"desktop prefers gnome3", map[string]string{"DISPLAY": ":0"}, []string{"pinentry", "pinentry-curses", "pinentry-qt", "pinentry-gnome3"}, "/usr/bin/pinentry-gnome3"},
		{"wayland prefers qt over curses", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, []string{"pinentry-curses", "pinentry-qt"}, "/usr/bin/pinentry-qt"},
		{"gtk", map[string]string{"DISPLAY": ":0"}, []string{"pinentry-gtk-2", "pinentry-curses"}, "/usr/bin/pinentry-gtk-2"},
		{"no display prefers curses", nil, []string{"pinentry-gnome3", "pinentry-curses"}, "/usr/bin/pinentry-curses"},
		{"default pinentry", nil, []string{"pinentry"}, "/usr/bin/pinentry"},
		{"graphical without display is still better than nothing", nil, []string{"pinentry-qt"}, "/usr/bin/pinentry-qt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := find(func(k string) string { return tc.env[k] }, fakeLookPath(tc.installed), nil)
			if err != nil || p.Path != tc.want {
				t.Errorf("find = %q, %v; want %q", p.Path, err, tc.want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		_, err := find(func(string) string { return "" }, fakeLookPath(nil), nil)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "pinentry-gnome3") {
			t.Errorf("error %v, want ErrNotFound naming what was looked for", err)
		}
	})
}

// fakeLookPath finds exactly the names in installed, in /usr/bin.
func fakeLookPath(installed []string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, n := range installed {
			if n == name {
				return "/usr/bin/" + n, nil
			}
		}
		return "", exec.ErrNotFound
	}
}

func TestNeedsTerminal(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"pinentry-curses", "pinentry-tty", "pinentry-gnome3", "pinentry-qt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian's /usr/bin/pinentry is a link through /etc/alternatives.
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(filepath.Join(dir, target), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		want bool
	}{
		{filepath.Join(dir, "pinentry-curses"), true},
		{filepath.Join(dir, "pinentry-tty"), true},
		{filepath.Join(dir, "pinentry-gnome3"), false},
		{link("pinentry", "pinentry-curses"), true},
		{link("pinentry-alt", "pinentry-qt"), false},
		{filepath.Join(dir, "missing", "pinentry-curses"), true},
	}
	for _, c := range cases {
		if got := NeedsTerminal(c.path); got != c.want {
			t.Errorf("NeedsTerminal(%s) = %v, want %v", c.path, got, c.want)
		}
	}
}
