package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/vcard"
)

// chanWriter hands every write to the test goroutine.
type chanWriter struct {
	ch chan string
}

func (b chanWriter) Write(p []byte) (int, error) {
	b.ch <- string(p)
	return len(p), nil
}

func TestRunUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := options{addr: addr, cn: "555123456789", alg: "p256", stdout: io.Discard, stderr: io.Discard}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = o.run(ctx)
	want := "cannot reach the virtual reader at " + addr + ": is pcscd running with vsmartcard-vpcd installed?"
	if err == nil || err.Error() != want {
		t.Fatalf("run error = %v, want %q", err, want)
	}
}

func TestRunInsertsUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := chanWriter{make(chan string, 10)}
	o := options{addr: ln.Addr().String(), cn: "555000000042", alg: "p256", fault: vcard.FaultNone, stdout: out, stderr: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.run(ctx) }()

	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		cancel()
		t.Fatalf("accept: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Poll for the ATR as vpcd does.
	conn.Write([]byte{0x00, 0x01, 0x04})
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatalf("read ATR: %v", err)
	}
	atr := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	io.ReadFull(conn, atr)
	if !bytes.Equal(atr, vcard.DefaultATR()) {
		t.Errorf("ATR = % X", atr)
	}
	select {
	case line := <-out.ch:
		if !strings.Contains(line, "555000000042") || !strings.Contains(line, o.addr) || strings.Count(line, "\n") != 1 {
			t.Errorf("printed %q, want one line with the UUID and address", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing printed")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if n, err := conn.Read(hdr[:]); n != 0 || err == nil {
		t.Errorf("card still connected after run returned")
	}
}
