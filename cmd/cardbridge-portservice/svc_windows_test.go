package main

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows/svc"

	"github.com/cardbridge/cardbridge/portservice/server"
)

func TestServiceHandler(t *testing.T) {
	ran := make(chan context.Context, 1)
	var got []server.SessionEvent
	h := &handler{
		run:       func(ctx context.Context) error { ran <- ctx; <-ctx.Done(); return nil },
		onSession: func(ev server.SessionEvent) { got = append(got, ev) },
	}
	req := make(chan svc.ChangeRequest)
	status := make(chan svc.Status, 16)
	done := make(chan uint32, 1)
	go func() { _, code := h.Execute(nil, req, status); done <- code }()
	ctx := <-ran
	logoff := wtsSessionNotification{Size: 8, SessionID: 3}
	req <- svc.ChangeRequest{Cmd: svc.SessionChange, EventType: wtsSessionLogoff, EventData: uintptr(unsafe.Pointer(&logoff))}
	req <- svc.ChangeRequest{Cmd: svc.SessionChange, EventType: 0x7 /* lock: ignored */, EventData: uintptr(unsafe.Pointer(&logoff))}
	req <- svc.ChangeRequest{Cmd: svc.Stop}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Execute did not return after Stop")
	}
	if ctx.Err() == nil {
		t.Error("the service's context was not cancelled")
	}
	if len(got) != 1 || got[0].Session != 3 || got[0].LoggedOn {
		t.Errorf("session events = %+v", got)
	}
}
