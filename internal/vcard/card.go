package vcard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Config describes a virtual card. The zero value is a card with the PIV
// application but no certificate or key; use NewIdentity to make them.
type Config struct {
	// ATR is the answer-to-reset; nil means DefaultATR().
	ATR []byte
	// Certificate is the DER of the PIV authentication certificate (slot 9A,
	// data object 5FC105); nil makes GET DATA answer 6A82.
	Certificate []byte
	// Key is the slot 9A private key: an *rsa.PrivateKey of 2048 bits
	// (algorithm 07) or an ECDSA P-256 key (algorithm 11). Without a usable
	// key GENERAL AUTHENTICATE answers 6A88.
	Key crypto.Signer
	// SigningCertificate is the DER of the digital signature certificate
	// (slot 9C, data object 5FC10A); nil, as on NHS cards, makes GET DATA of
	// it answer 6A82.
	SigningCertificate []byte
	// SigningKey is the slot 9C private key, of the same kinds as Key. As
	// SP 800-73-4 has it, the PIN must be verified again before each
	// signature with it.
	SigningKey crypto.Signer
	// Compress stores the certificates gzip-compressed, with CertInfo (tag
	// 71) 01, as some issuers do.
	Compress bool
	// PIN is the application PIN, 6 to 8 characters; default "123456".
	PIN string
	// Retries is the PIN retry counter's start and reset value: default 3,
	// at most 15; a negative value makes a card whose PIN is blocked.
	Retries int
	// PINResetSW, when not 0, is the status word the card answers VERIFY
	// with P1 FF (SP 800-73-4's reset of the PIN's verified state) with,
	// leaving its state as it was: 6A86 or 6B00 make a card built to an
	// earlier PIV edition. 0 makes a card that performs the reset.
	PINResetSW uint16
	// Fault makes the card misbehave; see Fault.
	Fault Fault
	// Delay is how long FaultSlow holds every APDU answer; default 2s.
	Delay time.Duration
	// ChunkSize is the most response data bytes sent in one answer before
	// 61xx response chaining; default 256, at most 65533.
	ChunkSize int
	// Logf, when set, receives one line per exchange for debugging. It never
	// receives command data, so PINs are not logged. It is called with the
	// card's lock held and must not call the Card's methods.
	Logf func(format string, args ...any)
}

// Defaults for Config fields left zero.
const (
	// DefaultPIN is the PIN of a card whose Config.PIN is empty.
	DefaultPIN = "123456"
	// DefaultRetries is the PIN retry counter of a card whose Config.Retries is 0.
	DefaultRetries = 3
	// DefaultDelay is FaultSlow's delay when Config.Delay is 0.
	DefaultDelay = 2 * time.Second
	// DefaultChunkSize is the response chunk size when Config.ChunkSize is 0.
	DefaultChunkSize = 256
)

const (
	maxChunkSize = 0xFFFF - 2 // a vpcd frame holds at most 65535 bytes
	maxCommands  = 1 << 16    // Commands keeps at most this many recent APDUs
	dialTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
)

// ErrInserted is returned by Insert when the card is already in a reader.
var ErrInserted = errors.New("card already inserted")

// ErrNotInserted is returned by WaitSeen when the card is not in a reader.
var ErrNotInserted = errors.New("card not inserted")

// ErrDisconnected is returned by Transmit when FaultDisconnect makes the card
// drop the exchange instead of answering.
var ErrDisconnected = errors.New("card dropped the connection")

// DefaultATR returns the ATR a card has when Config.ATR is nil:
// 3B 8F 80 01 80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00 73, a direct
// convention ATR offering T=0 and T=1 whose 15 historical bytes are compact
// TLV objects ending in status 90 00, followed by its check byte TCK.
func DefaultATR() []byte {
	return withTCK([]byte{
		0x3B, 0x8F, 0x80, 0x01,
		0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x03, 0x00, 0xEF, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00,
	})
}

// withTCK appends the ATR check byte: the XOR of every byte after TS.
func withTCK(atr []byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// Card is a virtual PIV card that can be inserted into a vpcd reader. It is
// safe for use from several goroutines.
type Card struct {
	cfg        Config
	atr        []byte
	pin        [8]byte // the PIN padded with FF as VERIFY sends it
	object     []byte  // the complete 53 object of the certificate, nil if none
	signObject []byte  // the same for the slot 9C certificate
	authKey    cardKey
	signKey    cardKey

	insertMu sync.Mutex // serialises Insert and Remove

	mu       sync.Mutex // guards the fields below
	conn     net.Conn
	stop     chan struct{} // closed to interrupt the current connection's waits
	done     chan struct{} // closed when the current connection's goroutine ends
	seen     chan struct{} // closed at the first message vpcd sends on the connection
	commands [][]byte
	retries  int
	s        session
}

// New returns a card described by cfg, not yet inserted. Byte slices in cfg
// are copied.
func New(cfg Config) *Card {
	c := &Card{cfg: cfg}
	if cfg.ATR == nil {
		c.atr = DefaultATR()
	} else {
		c.atr = bytes.Clone(cfg.ATR)
	}
	if c.cfg.PIN == "" {
		c.cfg.PIN = DefaultPIN
	}
	if c.cfg.Retries == 0 {
		c.cfg.Retries = DefaultRetries
	}
	if c.cfg.Retries > 15 {
		c.cfg.Retries = 15
	}
	if c.cfg.Delay <= 0 {
		c.cfg.Delay = DefaultDelay
	}
	if c.cfg.ChunkSize <= 0 {
		c.cfg.ChunkSize = DefaultChunkSize
	}
	if c.cfg.ChunkSize > maxChunkSize {
		c.cfg.ChunkSize = maxChunkSize
	}
	c.retries = max(c.cfg.Retries, 0)
	c.pin = padPIN([]byte(c.cfg.PIN))
	if cfg.Certificate != nil {
		c.object = certObject(cfg.Certificate, cfg.Compress)
	}
	if cfg.SigningCertificate != nil {
		c.signObject = certObject(cfg.SigningCertificate, cfg.Compress)
	}
	c.authKey = newCardKey(cfg.Key)
	c.signKey = newCardKey(cfg.SigningKey)
	return c
}

// cardKey is a key in one slot, as GENERAL AUTHENTICATE uses it.
type cardKey struct {
	alg byte // the GENERAL AUTHENTICATE algorithm, 0 if there is no usable key
	rsa *rsa.PrivateKey
	ec  crypto.Signer
}

// newCardKey takes an RSA-2048 or P-256 key; any other gives a slot
// without a key.
func newCardKey(k crypto.Signer) cardKey {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k != nil && k.N != nil && k.N.BitLen() == 2048 {
			return cardKey{alg: algRSA2048, rsa: k}
		}
	case *ecdsa.PrivateKey:
		if k != nil && k.Curve == elliptic.P256() {
			return cardKey{alg: algECCP256, ec: k}
		}
	case nil:
	default:
		if pub, ok := k.Public().(*ecdsa.PublicKey); ok && pub.Curve == elliptic.P256() {
			return cardKey{alg: algECCP256, ec: k}
		}
	}
	return cardKey{}
}

// padPIN pads pin with FF to the 8 bytes VERIFY carries; a longer PIN keeps
// only its first 8 bytes and a last byte of 00 so that nothing matches it.
func padPIN(pin []byte) [8]byte {
	var out [8]byte
	for i := range out {
		out[i] = 0xFF
	}
	copy(out[:], pin)
	if len(pin) > 8 {
		out[7] = 0x00
	}
	return out
}

// certObject builds the PIV certificate data object:
// 53 { 70 cert, 71 certinfo, FE (empty error detection code) }.
func certObject(der []byte, compress bool) []byte {
	cert, info := der, byte(0x00)
	if compress {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(der) // writes to a bytes.Buffer do not fail
		zw.Close()
		cert, info = buf.Bytes(), 0x01
	}
	inner := appendTLV(nil, 0x70, cert)
	inner = appendTLV(inner, 0x71, []byte{info})
	inner = appendTLV(inner, 0xFE, nil)
	return appendTLV(nil, 0x53, inner)
}

// Insert puts the card into the vpcd reader listening at addr (see
// ReaderAddr) and serves it in a background goroutine until Remove, vpcd
// closes the connection, or FaultDisconnect drops it.
func (c *Card) Insert(addr string) error {
	c.insertMu.Lock()
	defer c.insertMu.Unlock()
	if c.Inserted() {
		return fmt.Errorf("insert card at %s: %w", addr, ErrInserted)
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("insert card: dial vpcd at %s: %w", addr, err)
	}
	stop, done, seen := make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.mu.Lock()
	c.conn, c.stop, c.done, c.seen = conn, stop, done, seen
	c.s = session{}
	c.mu.Unlock()
	c.logf("vcard: inserted into %s", addr)
	go c.serve(conn, stop, done, seen)
	return nil
}

// Remove takes the card out of its reader: it closes the vpcd connection,
// abandoning any exchange in progress, and waits for the serving goroutine to
// end. Removing a card that is not inserted does nothing.
func (c *Card) Remove() error {
	c.insertMu.Lock()
	defer c.insertMu.Unlock()
	c.mu.Lock()
	conn, stop, done := c.conn, c.stop, c.done
	if conn == nil {
		c.mu.Unlock()
		if done != nil {
			<-done // the connection ended by itself; let its goroutine finish
		}
		return nil
	}
	close(stop)
	c.mu.Unlock()
	err := conn.Close()
	<-done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("remove card: close vpcd connection: %w", err)
	}
	return nil
}

// Inserted reports whether the card is connected to a vpcd reader.
func (c *Card) Inserted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// WaitSeen waits until vpcd has sent the card its first message since Insert,
// which shows that pcscd is polling the reader and has noticed the card. It
// fails if ctx ends first or the card is removed.
func (c *Card) WaitSeen(ctx context.Context) error {
	c.mu.Lock()
	conn, seen, done := c.conn, c.seen, c.done
	c.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("wait for vpcd: %w", ErrNotInserted)
	}
	select {
	case <-seen:
		return nil
	case <-done:
		select {
		case <-seen:
			return nil
		default:
			return fmt.Errorf("wait for vpcd: %w", ErrNotInserted)
		}
	case <-ctx.Done():
		return fmt.Errorf("wait for vpcd: %w", ctx.Err())
	}
}

// Commands returns a copy of the command APDUs the card has received, oldest
// first; past 65536 commands the oldest quarter is forgotten.
func (c *Card) Commands() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, len(c.commands))
	for i, cmd := range c.commands {
		out[i] = bytes.Clone(cmd)
	}
	return out
}

// PINVerified reports whether the PIN is verified in the card's current
// session, which power off, reset, removal, a wrong PIN and VERIFY P1 FF end.
func (c *Card) PINVerified() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.verified
}

// RetriesLeft returns the PIN retry counter; 0 means the PIN is blocked.
func (c *Card) RetriesLeft() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.retries
}

// Transmit answers one command APDU as the card would over vpcd, without a
// reader, for host-side unit tests. The card behaves as if just powered on
// before its first Transmit; FaultSlow does not delay it, and FaultDisconnect
// makes it return ErrDisconnected.
func (c *Card) Transmit(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp, drop := c.handle(cmd)
	if drop {
		return nil, fmt.Errorf("transmit: %w", ErrDisconnected)
	}
	return resp, nil
}

// serve speaks the vpcd protocol on conn until it fails or is closed.
func (c *Card) serve(conn net.Conn, stop <-chan struct{}, done, seen chan struct{}) {
	defer close(done)
	defer func() {
		if r := recover(); r != nil {
			c.logf("vcard: internal error, dropping connection: %v", r)
		}
		conn.Close()
		c.mu.Lock()
		if c.conn == conn {
			c.conn = nil
		}
		c.mu.Unlock()
	}()
	r := bufio.NewReader(conn)
	first := true
	for {
		msg, err := readFrame(r)
		if err != nil {
			select {
			case <-stop:
				c.logf("vcard: removed")
			default:
				c.logf("vcard: connection ended: %v", err)
			}
			return
		}
		if first {
			close(seen)
			first = false
		}
		var reply []byte
		switch len(msg) {
		case 0:
			c.logf("vcard: empty message from vpcd, dropping connection")
			return
		case 1:
			switch msg[0] {
			case ctrlOff, ctrlOn, ctrlReset:
				c.logf("vcard: control %d", msg[0])
				c.mu.Lock()
				c.s = session{}
				c.mu.Unlock()
				continue
			case ctrlATR:
				reply = c.atr
			default:
				c.logf("vcard: unknown control code %d, dropping connection", msg[0])
				return
			}
		default:
			var drop bool
			c.mu.Lock()
			reply, drop = c.handle(msg)
			c.mu.Unlock()
			if drop {
				c.logf("vcard: dropping connection instead of answering (fault %s)", c.cfg.Fault)
				return
			}
			if c.cfg.Fault == FaultSlow {
				t := time.NewTimer(c.cfg.Delay)
				select {
				case <-t.C:
				case <-stop:
					t.Stop()
					return
				}
			}
		}
		if err := writeFrame(conn, reply); err != nil {
			c.logf("vcard: answer vpcd: %v", err)
			return
		}
	}
}

// vpcd control codes.
const (
	ctrlOff   = 0
	ctrlOn    = 1
	ctrlReset = 2
	ctrlATR   = 4
)

// readFrame reads one vpcd message: a 2-byte big-endian length and payload.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read vpcd message length: %w", err)
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("read vpcd message: %w", err)
	}
	return msg, nil
}

// writeFrame writes payload as one vpcd message.
func writeFrame(conn net.Conn, payload []byte) error {
	if len(payload) > 0xFFFF {
		return fmt.Errorf("write vpcd message: %d bytes is too long", len(payload))
	}
	buf := make([]byte, 2, 2+len(payload))
	binary.BigEndian.PutUint16(buf, uint16(len(payload)))
	buf = append(buf, payload...)
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(buf); err != nil {
		return fmt.Errorf("write vpcd message: %w", err)
	}
	return nil
}

// logf passes a debugging line to Config.Logf when it is set.
func (c *Card) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}
