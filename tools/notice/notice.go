package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// Module is a third-party module linked into cardbridge.
type Module struct {
	Path, Version string
	Licence       string // an SPDX identifier
	Text          string // the module's licence file
}

// platforms are those cardbridge is built for: a module linked on any of
// them ships.
var platforms = []string{"linux", "windows", "darwin"}

// programs are what cardbridge ships.
var programs = []string{"./cmd/cardbridge", "./cmd/cardbridge-portservice"}

// Modules lists the third-party modules linked into the programs of the
// module at dir, on any platform, sorted by path.
func Modules(dir string) ([]Module, error) {
	seen := map[string]Module{}
	for _, goos := range platforms {
		args := append([]string{"list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}\t{{.Version}}\t{{.Dir}}{{end}}{{end}}"}, programs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list (GOOS=%s): %v\n%s", goos, err, stderr.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) != 3 || f[0] == "" {
				continue
			}
			if _, ok := seen[f[0]]; ok {
				continue
			}
			if f[2] == "" {
				return nil, fmt.Errorf("%s %s is not in the module cache (go mod download)", f[0], f[1])
			}
			text, err := licenceFile(f[2])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f[0], f[1], err)
			}
			id, err := Identify(text)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f[0], f[1], err)
			}
			seen[f[0]] = Module{Path: f[0], Version: f[1], Licence: id, Text: text}
		}
	}
	mods := make([]Module, 0, len(seen))
	for _, m := range seen {
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	return mods, nil
}

// licenceNames are the names modules give their licence file.
var licenceNames = []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING", "License"}

func licenceFile(dir string) (string, error) {
	for _, n := range licenceNames {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			return string(b), nil
		}
	}
	return "", errors.New("no licence file (" + strings.Join(licenceNames, ", ") + ")")
}

// Words each licence's text holds, and BSD's third clause, which tells the
// three-clause BSD licence from the two-clause one. Line breaks fall
// anywhere.
var (
	apache2   = words("Apache License Version 2.0")
	mit       = words("Permission is hereby granted, free of charge, to any person obtaining a copy")
	bsd       = words("Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions")
	bsdClause = words("Neither the name of")
	zlib      = words("Permission is granted to anyone to use this software for any purpose, including commercial applications, and to alter it and redistribute it freely")
)

// words matches the phrase with any white space between its words.
func words(phrase string) *regexp.Regexp {
	f := strings.Fields(phrase)
	for i := range f {
		f[i] = regexp.QuoteMeta(f[i])
	}
	return regexp.MustCompile(strings.Join(f, `\s+`))
}

// ErrUnknownLicence means a licence file reads as none of those Identify
// knows.
var ErrUnknownLicence = errors.New("the licence is none of Apache-2.0, MIT, BSD-2-Clause, BSD-3-Clause, Zlib: look at it and add it to tools/notice")

// Identify names the licence text as an SPDX identifier.
func Identify(text string) (string, error) {
	switch {
	case apache2.MatchString(text):
		return "Apache-2.0", nil
	case mit.MatchString(text):
		return "MIT", nil
	case bsd.MatchString(text) && bsdClause.MatchString(text):
		return "BSD-3-Clause", nil
	case bsd.MatchString(text):
		return "BSD-2-Clause", nil
	case zlib.MatchString(text):
		return "Zlib", nil
	}
	return "", ErrUnknownLicence
}

// Notice is the text of NOTICE for the module at dir.
func Notice(dir string) (string, error) {
	mods, err := Modules(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("cardbridge\n")
	b.WriteString("Copyright The cardbridge authors.\n")
	b.WriteString("Licensed under the Apache License, Version 2.0; see LICENSE.\n\n")
	b.WriteString("cardbridge's programs include the following third-party Go modules, each\n")
	b.WriteString("under its own licence, whose text follows below.\n\n")
	goLicence, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "LICENSE"))
	if err != nil {
		return "", fmt.Errorf("the Go standard library's licence: %w", err)
	}
	std := Module{Path: "Go standard library", Version: "(the Go release that built it)", Text: string(goLicence)}
	if std.Licence, err = Identify(std.Text); err != nil {
		return "", fmt.Errorf("the Go standard library: %w", err)
	}
	mods = append([]Module{std}, mods...)
	for _, m := range mods {
		fmt.Fprintf(&b, "  %-32s %-36s %s\n", m.Path, m.Version, m.Licence)
	}
	for _, m := range mods {
		fmt.Fprintf(&b, "\n%s\n%s %s (%s)\n%s\n\n", strings.Repeat("=", 76), m.Path, m.Version, m.Licence, strings.Repeat("=", 76))
		b.WriteString(strings.TrimRight(m.Text, "\n") + "\n")
	}
	b.WriteString("\nThis file is made by scripts/notice from go.mod; do not edit it by hand.\n")
	return b.String(), nil
}
