// Command pkgfiles writes the service, login and settings files of a Linux
// install of cardbridge into a package's staging directory, from the same
// definitions `cardbridge-portservice install` uses:
//
//	go run ./tools/pkgfiles --out STAGING [--bindir /usr/bin]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cardbridge/cardbridge/installer"
)

func main() {
	out := flag.String("out", "", "staging directory (the package's root)")
	binDir := flag.String("bindir", "/usr/bin", "where the package installs the programs")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: pkgfiles --out STAGING [--bindir /usr/bin]")
		os.Exit(2)
	}
	// Debian packages ship units under /lib and /usr/lib, leaving /etc to
	// the administrator; the settings and autostart files are conffiles.
	for _, f := range installer.LinuxFiles(*binDir, "/lib/systemd/system", "/usr/lib/systemd/user") {
		path := filepath.Join(*out, f.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(path, []byte(f.Data), os.FileMode(f.Mode)); err != nil {
			fail(err)
		}
		fmt.Println(f.Path)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pkgfiles:", err)
	os.Exit(1)
}
