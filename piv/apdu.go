package piv

import (
	"context"
	"fmt"
)

// Card is one connected card: a single APDU exchange honouring ctx's deadline.
//
// Transmit must not keep cmd after it returns: the package wipes a VERIFY command, which
// carries the PIN, once the card has answered.
type Card interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Command is one command APDU before encoding, as given to Exchange.
type Command struct {
	CLA, INS, P1, P2 byte
	// Data is the command data; Exchange chains it when it is longer than 255 bytes.
	Data []byte
	// Le is the expected response length: -1 for none, 0 to 256 for a short Le (both 0
	// and 256 are sent as 00, which means 256).
	Le int
}

// Bounds on what Exchange accepts from a card.
const (
	maxResponse  = 64 << 10 // bytes of response data for one command
	maxFollowUps = 300      // GET RESPONSE and 6Cxx resends for one command
	chainBlock   = 255      // command data per chained block
)

// Bytes encodes c as a short command APDU for Card.Transmit.
//
// It never panics. Le below -1 counts as none and above 256 as 256. Data longer than 255
// bytes does not fit a short APDU, so it is encoded in the ISO 7816-4 extended form
// (data cut at 65535 bytes); Exchange never sends that, it chains instead.
func (c Command) Bytes() []byte {
	data := c.Data
	ext := len(data) > 255
	if len(data) > 0xFFFF {
		data = data[:0xFFFF]
	}
	out := make([]byte, 0, 4+3+len(data)+3)
	out = append(out, c.CLA, c.INS, c.P1, c.P2)
	if ext {
		out = append(out, 0x00, byte(len(data)>>8), byte(len(data)))
		out = append(out, data...)
		if c.Le >= 0 {
			le := min(c.Le, 0x10000)
			if le == 0 {
				le = 256 // Le 0 means the short maximum, not the extended one
			}
			out = append(out, byte(le>>8), byte(le)) // 65536 wraps to 0000 as ISO requires
		}
		return out
	}
	if len(data) > 0 {
		out = append(out, byte(len(data)))
		out = append(out, data...)
	}
	if c.Le >= 0 {
		out = append(out, byte(min(c.Le, 256))) // 256 wraps to 00
	}
	return out
}

// Exchange sends cmd and returns the response data and the final status word.
//
// Data longer than 255 bytes is sent with command chaining (CLA|0x10 on every block but
// the last, 255-byte blocks); data answering a block other than the last is dropped, and
// such a block answered with anything but 9000 ends the exchange with that status word. 61xx is followed with GET RESPONSE
// (00 C0 00 00 xx) and 6Cxx by resending the last command with Le=xx, so the status
// word returned is never 61xx or 6Cxx. A short answer, more than 64 KiB of response
// data or more than 300 follow-ups give an error wrapping ErrUnsupportedCard; ctx is
// checked before every transmission.
func Exchange(ctx context.Context, c Card, cmd Command) (data []byte, sw uint16, err error) {
	name := commandName(cmd.INS)
	rest := cmd.Data
	for len(rest) > chainBlock {
		block := Command{CLA: cmd.CLA | 0x10, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: rest[:chainBlock], Le: -1}
		_, sw, err := transmit(ctx, c, name, block)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case sw == swOK:
		case sw>>8 == 0x61 || sw>>8 == 0x6C:
			return nil, 0, unsupported("unexpected status word %s to a chained %s block", StatusWord(sw), name)
		default:
			return nil, sw, nil
		}
		rest = rest[chainBlock:]
	}
	next := Command{CLA: cmd.CLA, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: rest, Le: cmd.Le}
	followUps := 0
	for {
		body, sw, err := transmit(ctx, c, name, next)
		if err != nil {
			return nil, 0, err
		}
		switch sw >> 8 {
		case 0x61:
			if len(data)+len(body) > maxResponse {
				return nil, 0, unsupported("response to %s longer than %d bytes", name, maxResponse)
			}
			data = append(data, body...)
			next = Command{CLA: 0x00, INS: 0xC0, P1: 0x00, P2: 0x00, Le: shortLe(sw)}
		case 0x6C:
			next.Le = shortLe(sw)
		default:
			if len(data)+len(body) > maxResponse {
				return nil, 0, unsupported("response to %s longer than %d bytes", name, maxResponse)
			}
			return append(data, body...), sw, nil
		}
		followUps++
		if followUps > maxFollowUps {
			return nil, 0, unsupported("more than %d GET RESPONSE rounds (61xx/6Cxx) for %s", maxFollowUps, name)
		}
	}
}

// shortLe is the Le a 61xx or 6Cxx status word asks for: xx, with 00 meaning 256.
func shortLe(sw uint16) int {
	if n := int(sw & 0xFF); n != 0 {
		return n
	}
	return 256
}

// transmit sends one APDU and splits the answer into body and status word.
func transmit(ctx context.Context, c Card, name string, cmd Command) ([]byte, uint16, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("send %s: %w", name, err)
	}
	apdu := cmd.Bytes()
	resp, err := c.Transmit(ctx, apdu)
	if cmd.INS == 0x20 {
		clear(apdu)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("transmit %s: %w", name, err)
	}
	if len(resp) < 2 {
		return nil, 0, unsupported("%d-byte response to %s, too short for a status word", len(resp), name)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1]), nil
}

// commandName names an instruction byte for error messages.
func commandName(ins byte) string {
	switch ins {
	case 0xA4:
		return "SELECT"
	case 0xCB:
		return "GET DATA"
	case 0xC0:
		return "GET RESPONSE"
	case 0x20:
		return "VERIFY"
	case 0x87:
		return "GENERAL AUTHENTICATE"
	default:
		return fmt.Sprintf("INS %02X", ins)
	}
}
