package localsock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxMessage is the longest message, not counting its newline, that Send sends and
// Recv accepts: room for a DomainList and then some.
const MaxMessage = 64 << 10

// ErrTooLong means a message was longer than MaxMessage.
var ErrTooLong = errors.New("message too long")

// ErrBadMessage means a message was not a JSON object, or did not fit the value it
// was decoded into.
var ErrBadMessage = errors.New("bad message")

// smallBuf is the receive buffer a connection starts with (agents and the
// service exchange short messages, and thousands of idle connections each
// hold one while they wait); it grows to
// MaxMessage+1 only for a message that needs it, and shrinks back once drained.
const smallBuf = 512

// Conn exchanges newline-delimited JSON objects over a local socket connection. One
// goroutine may Send while another Recvs; each method also serialises its own callers.
type Conn struct {
	c net.Conn

	rmu sync.Mutex
	// buf[:n] holds bytes read from c but not yet returned: the start of the next
	// message, perhaps more. buf[:scanned] is known to hold no newline.
	buf        []byte
	n, scanned int
	// rerr, once set, is returned by every Recv: the stream can no longer be split
	// into messages.
	rerr error

	wmu sync.Mutex
	// werr, once set, is returned by every Send: a message went out in part.
	werr error
}

// NewConn returns a Conn that frames messages over c, which it takes over.
func NewConn(c net.Conn) *Conn {
	return &Conn{c: c}
}

// NetConn returns the connection under c, for PeerUser and PeerPID.
func (c *Conn) NetConn() net.Conn { return c.c }

// Close closes the connection, ending any Send or Recv in progress.
func (c *Conn) Close() error {
	if err := c.c.Close(); err != nil {
		return fmt.Errorf("localsock: close: %w", err)
	}
	return nil
}

// Send writes v, which must encode as a JSON object of at most MaxMessage bytes, as
// one line; timeout bounds the write, and 0 means no deadline. After an error that
// left part of a message sent, every later Send fails and the caller should close.
func (c *Conn) Send(v any, timeout time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("localsock: send: encode %T: %w", v, err)
	}
	// Marshal's output is compact, so holds no newline outside a string, and escapes
	// control characters inside one; a leading brace makes it an object.
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("localsock: send: %w: %T is not a json object", ErrBadMessage, v)
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("localsock: send: %w: %d bytes, limit %d", ErrTooLong, len(b), MaxMessage)
	}
	b = append(b, '\n')

	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if err := c.c.SetWriteDeadline(deadline(timeout)); err != nil {
		return fmt.Errorf("localsock: send: set deadline: %w", err)
	}
	n, err := c.c.Write(b)
	if err != nil {
		err = fmt.Errorf("localsock: send: %w", err)
		if n > 0 {
			c.werr = err
		}
		return err
	}
	return nil
}

// Wait blocks until the next message has arrived whole, or Recv would fail, without
// decoding it: the next Recv returns it (or the error) at once. timeout is as for
// Recv. A goroutine that spends hours waiting for rare messages can wait here and
// decode them on another, so that the stack it keeps while parked stays small.
func (c *Conn) Wait(timeout time.Duration) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	_, err := c.nextLine(timeout)
	return err
}

// Recv reads the next message into v as json.Unmarshal would; timeout bounds the wait,
// and 0 means no deadline. A message longer than MaxMessage gives ErrTooLong, a line
// that is not a JSON object or does not fit v gives ErrBadMessage, and a peer that
// closes between messages gives io.EOF; after any of these the caller should close.
// A timeout loses nothing: a message that was partly read is finished by a later Recv.
// Recv never buffers more than MaxMessage+1 bytes.
func (c *Conn) Recv(v any, timeout time.Duration) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	end, err := c.nextLine(timeout)
	if err != nil {
		return err
	}
	defer c.consume(end + 1)
	return decode(c.buf[:end], v)
}

// nextLine is readLine for Wait and Recv, with rmu held: an error after which the
// stream cannot be split into messages is kept and returned from then on.
func (c *Conn) nextLine(timeout time.Duration) (int, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	end, fatal, err := c.readLine(timeout)
	if err != nil {
		err = fmt.Errorf("localsock: recv: %w", err)
		if fatal {
			c.rerr = err
		}
		return 0, err
	}
	return end, nil
}

// readLine returns the index in c.buf of the newline that ends the next message,
// reading from the connection until one arrives. fatal reports an error after which
// the stream cannot be split into messages any more.
func (c *Conn) readLine(timeout time.Duration) (end int, fatal bool, err error) {
	deadlineSet := false
	for {
		if i := bytes.IndexByte(c.buf[c.scanned:c.n], '\n'); i >= 0 {
			return c.scanned + i, false, nil
		}
		c.scanned = c.n
		if c.n > MaxMessage {
			return 0, true, fmt.Errorf("%w: more than %d bytes without a newline", ErrTooLong, MaxMessage)
		}
		if c.n == len(c.buf) {
			c.grow()
		}
		if !deadlineSet {
			if err := c.c.SetReadDeadline(deadline(timeout)); err != nil {
				return 0, false, fmt.Errorf("set deadline: %w", err)
			}
			deadlineSet = true
		}
		k, err := c.c.Read(c.buf[c.n:])
		c.n += k
		if err == nil {
			continue
		}
		if i := bytes.IndexByte(c.buf[c.scanned:c.n], '\n'); i >= 0 {
			// A whole message came with the error; the error will come again.
			return c.scanned + i, false, nil
		}
		if errors.Is(err, io.EOF) {
			if c.n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, true, err
		}
		// A timeout keeps what was read for the next call; other errors (a closed
		// connection) will recur on their own.
		return 0, false, err
	}
}

// grow enlarges a full buffer: to smallBuf at first, then straight to the largest
// that a message and its newline need.
func (c *Conn) grow() {
	size := smallBuf
	if len(c.buf) >= smallBuf {
		size = MaxMessage + 1
	}
	b := make([]byte, size)
	copy(b, c.buf[:c.n])
	c.buf = b
}

// consume drops the first k bytes of the buffer, and the buffer itself once it is
// empty and larger than a connection usually needs.
func (c *Conn) consume(k int) {
	c.n = copy(c.buf, c.buf[k:c.n])
	c.scanned = 0
	if c.n == 0 && len(c.buf) > smallBuf {
		c.buf = nil
	}
}

// decode unmarshals one message, which must be a JSON object, into v.
func decode(line []byte, v any) error {
	t := bytes.TrimLeft(line, " \t\r")
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("localsock: recv: %w: not a json object", ErrBadMessage)
	}
	if err := json.Unmarshal(line, v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("localsock: recv: %w: invalid json: %w", ErrBadMessage, err)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("localsock: recv: %w: does not fit %T: %w", ErrBadMessage, v, err)
		}
		return fmt.Errorf("localsock: recv: decode into %T: %w", v, err)
	}
	return nil
}

// deadline turns a timeout into a deadline, the zero time for none.
func deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}
