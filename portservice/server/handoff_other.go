//go:build !linux

package server

import "net"

// noHandoff is a system without a service manager that keeps sockets: a
// restart of the service is a short gap in which pages are refused.
type noHandoff struct{}

func newHandoff() handoff { return noHandoff{} }

func (noHandoff) inherited() []keptSocket                 { return nil }
func (noHandoff) keep(string, net.Listener) (bool, error) { return false, nil }
func (noHandoff) forget(string) error                     { return nil }
