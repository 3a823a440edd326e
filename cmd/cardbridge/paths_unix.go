//go:build !windows

package main

// defaultPortServiceSocket is where the port service listens for agents.
const defaultPortServiceSocket = "/run/cardbridge/portservice.sock"
