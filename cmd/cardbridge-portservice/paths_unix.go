//go:build !windows

package main

// defaultStateDir holds PortStore.txt, DomainList.txt and the log.
const defaultStateDir = "/var/lib/cardbridge"
