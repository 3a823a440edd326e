// Command notice prints cardbridge's NOTICE: its own licence, then every
// third-party Go module linked into its programs (cardbridge and
// cardbridge-portservice, built for Linux, Windows and macOS) with its
// version, its licence and the text of its licence file. scripts/notice
// writes it to NOTICE; a test fails when NOTICE no longer matches go.mod.
//
// Licences are recognised by the words every copy of them holds; a module
// whose licence file is missing or reads as none of the licences below stops
// the command, so that a new dependency's licence is looked at by a person
// before it ships.
package main

import (
	"fmt"
	"os"
)

func main() {
	text, err := Notice(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "notice:", err)
		os.Exit(1)
	}
	fmt.Print(text)
}
