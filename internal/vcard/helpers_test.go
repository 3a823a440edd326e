package vcard

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// testIdentity is a certificate and key made once per test binary.
type testIdentity struct {
	cert []byte
	key  crypto.Signer
}

var (
	rsaIdentity = sync.OnceValues(func() (testIdentity, error) {
		cert, key, err := NewIdentity("rsa2048", NHSSubject("555123456789"), time.Time{})
		return testIdentity{cert, key}, err
	})
	p256Identity = sync.OnceValues(func() (testIdentity, error) {
		cert, key, err := NewIdentity("p256", NHSSubject("555000000001"), time.Time{})
		return testIdentity{cert, key}, err
	})
)

// identity returns the shared test identity for alg ("rsa2048" or "p256").
func identity(t testing.TB, alg string) testIdentity {
	t.Helper()
	get := rsaIdentity
	if alg == "p256" {
		get = p256Identity
	}
	id, err := get()
	if err != nil {
		t.Fatalf("make %s identity: %v", alg, err)
	}
	return id
}

// cardConfig returns a Config for the shared identity of alg.
func cardConfig(t testing.TB, alg string) Config {
	id := identity(t, alg)
	return Config{Certificate: id.cert, Key: id.key}
}

// fakeVPCD is the reader side of one vpcd connection, played by the test.
type fakeVPCD struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
}

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// listenVPCD starts a fake vpcd listener on a free loopback port.
func listenVPCD(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// accept waits for the card to connect to ln.
func accept(t *testing.T, ln net.Listener) *fakeVPCD {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept card connection: %v", err)
	}
	conn.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { conn.Close() })
	return &fakeVPCD{t: t, ln: ln, conn: conn}
}

// insert makes a card from cfg, inserts it into a fresh fake vpcd and
// removes it when the test ends.
func insert(t *testing.T, cfg Config) (*Card, *fakeVPCD) {
	t.Helper()
	if cfg.Logf == nil {
		var mu sync.Mutex
		done := false
		t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
		cfg.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				t.Logf(format, args...)
			}
		}
	}
	ln := listenVPCD(t)
	card := New(cfg)
	if err := card.Insert(ln.Addr().String()); err != nil {
		t.Fatalf("insert: %v", err)
	}
	t.Cleanup(func() {
		if err := card.Remove(); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	return card, accept(t, ln)
}

// send writes one vpcd frame.
func (f *fakeVPCD) send(payload []byte) {
	f.t.Helper()
	buf := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := f.conn.Write(append(buf, payload...)); err != nil {
		f.t.Fatalf("send to card: %v", err)
	}
}

// recv reads one vpcd frame.
func (f *fakeVPCD) recv() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(f.conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(f.conn, msg)
	return msg, err
}

// transmit sends a command APDU and returns the card's raw answer.
func (f *fakeVPCD) transmit(cmd []byte) []byte {
	f.t.Helper()
	f.send(cmd)
	resp, err := f.recv()
	if err != nil {
		f.t.Fatalf("card answer to % X: %v", head(cmd), err)
	}
	if len(resp) < 2 {
		f.t.Fatalf("card answer to % X is %d bytes, want at least 2", head(cmd), len(resp))
	}
	return resp
}

// exchange sends cmd and follows 61xx with GET RESPONSE, returning all the
// data and the final status word.
func (f *fakeVPCD) exchange(cmd []byte) ([]byte, uint16) {
	f.t.Helper()
	data, sw := splitSW(f.transmit(cmd))
	for i := 0; sw>>8 == 0x61; i++ {
		if i > 300 {
			f.t.Fatalf("endless 61xx chain")
		}
		var more []byte
		more, sw = splitSW(f.transmit([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}))
		data = append(data, more...)
	}
	return data, sw
}

// atr asks for the ATR as vpcd's presence poll does.
func (f *fakeVPCD) atr() []byte {
	f.t.Helper()
	f.send([]byte{ctrlATR})
	atr, err := f.recv()
	if err != nil {
		f.t.Fatalf("ask for atr: %v", err)
	}
	return atr
}

// expectClosed checks that the card closes the connection without sending
// another frame.
func (f *fakeVPCD) expectClosed() {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(testTimeout))
	var b [1]byte
	n, err := f.conn.Read(b[:])
	if n != 0 || err == nil {
		f.t.Fatalf("card sent data, want the connection closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		f.t.Fatalf("card kept the connection open")
	}
}

// splitSW separates a response APDU into data and status word.
func splitSW(resp []byte) ([]byte, uint16) {
	n := len(resp)
	return resp[:n-2], uint16(resp[n-2])<<8 | uint16(resp[n-1])
}

// head returns at most the first 5 bytes of an APDU, for messages.
func head(cmd []byte) []byte { return cmd[:min(len(cmd), 5)] }

// Command APDUs used by the tests.
var (
	selectShort = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00}
	selectFull  = []byte{0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00}
	getDataCert = []byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00}
	pinStatus   = []byte{0x00, 0x20, 0x00, 0x80}
)

// verifyCmd returns VERIFY with pin padded to 8 bytes with FF.
func verifyCmd(pin string) []byte {
	p := bytes.Repeat([]byte{0xFF}, 8)
	copy(p, pin)
	return append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, p...)
}

// berLen encodes a BER length, written independently of the card's encoder.
func berLen(n int) []byte {
	switch {
	case n < 128:
		return []byte{byte(n)}
	case n < 256:
		return []byte{0x81, byte(n)}
	default:
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
}

// dynAuth returns 7C { 82 00, 81 input }.
func dynAuth(input []byte) []byte {
	inner := append([]byte{0x82, 0x00, 0x81}, berLen(len(input))...)
	inner = append(inner, input...)
	return append(append([]byte{0x7C}, berLen(len(inner))...), inner...)
}

// generalAuthCmds returns GENERAL AUTHENTICATE for data: one extended APDU
// when block is 0, otherwise a command chain of blocks of at most block bytes.
func generalAuthCmds(alg byte, data []byte, block int) [][]byte {
	if block == 0 {
		cmd := []byte{0x00, 0x87, alg, 0x9A}
		if len(data) > 255 {
			cmd = append(cmd, 0x00, byte(len(data)>>8), byte(len(data)))
			return [][]byte{append(append(cmd, data...), 0x00, 0x00)}
		}
		cmd = append(cmd, byte(len(data)))
		return [][]byte{append(append(cmd, data...), 0x00)}
	}
	var cmds [][]byte
	for len(data) > 0 {
		n := min(block, len(data))
		cla := byte(0x10)
		if n == len(data) {
			cla = 0x00
		}
		cmd := append([]byte{cla, 0x87, alg, 0x9A, byte(n)}, data[:n]...)
		if cla == 0x00 {
			cmd = append(cmd, 0x00)
		}
		cmds = append(cmds, cmd)
		data = data[n:]
	}
	return cmds
}
