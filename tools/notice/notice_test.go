package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoticeIsCurrent fails when NOTICE no longer matches what
// scripts/notice makes from go.mod: a module added, removed or upgraded.
func TestNoticeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to list the modules: %v", err)
	}
	want, err := Notice("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../NOTICE")
	if err != nil {
		t.Fatalf("%v (make it with scripts/notice)", err)
	}
	if string(got) != want {
		t.Errorf("NOTICE is out of date with go.mod: run scripts/notice and commit NOTICE")
	}
	for _, m := range []string{"github.com/ebfe/scard", "github.com/rs/zerolog", "golang.org/x/sys"} {
		if !strings.Contains(want, "\n  "+m+" ") {
			t.Errorf("NOTICE does not list %s, which cardbridge links", m)
		}
	}
	if strings.Contains(want, "github.com/cardbridge/cardbridge ") {
		t.Error("NOTICE lists cardbridge itself as a third-party module")
	}
}

func TestIdentify(t *testing.T) {
	cases := []struct {
		text string
		want string
	}{
		{"                                 Apache License\n                           Version 2.0, January 2004\n", "Apache-2.0"},
		{"Copyright (c) 2013 X\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software", "MIT"},
		{"Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are\nmet:\n 1. ...\n 2. ...\n", "BSD-2-Clause"},
		{"Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are\nmet:\n * Neither the name of Google Inc. nor the names", "BSD-3-Clause"},
	}
	for _, c := range cases {
		if got, err := Identify(c.text); err != nil || got != c.want {
			t.Errorf("Identify(%.40q) = %q, %v; want %q", c.text, got, err, c.want)
		}
	}
	if _, err := Identify("GNU GENERAL PUBLIC LICENSE Version 3"); !errors.Is(err, ErrUnknownLicence) {
		t.Errorf("a GPL text: %v, want ErrUnknownLicence", err)
	}
}
