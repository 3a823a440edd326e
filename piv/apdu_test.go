package piv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestCommandBytes(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name string
		cmd  Command
		want []byte
	}{
		{"case 1", Command{0x00, 0x20, 0x00, 0x80, nil, -1}, unhex(t, "00 20 00 80")},
		{"case 2 Le 256", Command{0x00, 0xC0, 0x00, 0x00, nil, 256}, unhex(t, "00 C0 00 00 00")},
		{"case 2 Le 0", Command{0x00, 0xC0, 0x00, 0x00, nil, 0}, unhex(t, "00 C0 00 00 00")},
		{"case 2 Le 16", Command{0x00, 0xC0, 0x00, 0x00, nil, 0x10}, unhex(t, "00 C0 00 00 10")},
		{"case 3", Command{0x00, 0x20, 0x00, 0x80, []byte("123456\xff\xff"), -1}, unhex(t, "00 20 00 80 08 313233343536FFFF")},
		{"case 4 select", Command{0x00, 0xA4, 0x04, 0x00, pivAID, 256}, unhex(t, "00 A4 04 00 05 A000000308 00")},
		{"case 4 get data", Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256}, unhex(t, "00 CB 3F FF 05 5C035FC105 00")},
		{"empty data is no Lc", Command{0x00, 0xA4, 0x04, 0x00, []byte{}, -1}, unhex(t, "00 A4 04 00")},
		{"Le below -1 is none", Command{0x00, 0xA4, 0x04, 0x00, nil, -7}, unhex(t, "00 A4 04 00")},
		{"Le above 256 is 256", Command{0x00, 0xA4, 0x04, 0x00, nil, 1000}, unhex(t, "00 A4 04 00 00")},
		{"255 bytes short", Command{0x00, 0x87, 0x07, 0x9A, long[:255], 256}, append(append(unhex(t, "00 87 07 9A FF"), long[:255]...), 0x00)},
		{"300 bytes extended", Command{0x10, 0x87, 0x07, 0x9A, long, -1}, append(unhex(t, "10 87 07 9A 00 01 2C"), long...)},
		{"extended with Le", Command{0x00, 0x87, 0x07, 0x9A, long, 0}, append(append(unhex(t, "00 87 07 9A 00 01 2C"), long...), 0x01, 0x00)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cmd.Bytes(); !bytes.Equal(got, tt.want) {
				t.Errorf("Bytes() = % X\nwant      % X", got, tt.want)
			}
		})
	}
	t.Run("huge data does not panic", func(t *testing.T) {
		got := Command{Data: make([]byte, 70000), Le: 70000}.Bytes()
		if len(got) != 4+3+0xFFFF+2 {
			t.Errorf("len = %d", len(got))
		}
	})
}

func TestStatusWord(t *testing.T) {
	for sw, want := range map[uint16]string{0x9000: "9000", 0x6a82: "6A82", 0x0001: "0001", 0x6F00: "6F00"} {
		if got := StatusWord(sw); got != want {
			t.Errorf("StatusWord(%#x) = %q, want %q", sw, got, want)
		}
	}
}

func TestExchange(t *testing.T) {
	data300 := bytes.Repeat([]byte{0x5A}, 300)
	data600 := bytes.Repeat([]byte{0xA5}, 600)
	tests := []struct {
		name     string
		cmd      Command
		answers  [][]byte
		wantSent []string // hex, spaces ignored
		wantData []byte
		wantSW   uint16
		wantErr  string // substring; error must wrap ErrUnsupportedCard
	}{
		{
			name:     "plain 9000",
			cmd:      Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers:  [][]byte{sw([]byte{1, 2, 3}, 0x9000)},
			wantSent: []string{"00CB3FFF055C035FC10500"},
			wantData: []byte{1, 2, 3},
			wantSW:   0x9000,
		},
		{
			name:     "error status word passes through",
			cmd:      Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers:  [][]byte{sw(nil, 0x6A82)},
			wantSent: []string{"00CB3FFF055C035FC10500"},
			wantSW:   0x6A82,
		},
		{
			name:    "61xx rounds",
			cmd:     Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers: [][]byte{sw([]byte{1}, 0x6100), sw([]byte{2, 3}, 0x6105), sw([]byte{4}, 0x9000)},
			wantSent: []string{
				"00CB3FFF055C035FC10500",
				"00C0000000",
				"00C0000005",
			},
			wantData: []byte{1, 2, 3, 4},
			wantSW:   0x9000,
		},
		{
			name:     "6Cxx resends with Le",
			cmd:      Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers:  [][]byte{sw(nil, 0x6C20), sw([]byte{9}, 0x9000)},
			wantSent: []string{"00CB3FFF055C035FC10500", "00CB3FFF055C035FC10520"},
			wantData: []byte{9},
			wantSW:   0x9000,
		},
		{
			name:     "6Cxx to GET RESPONSE resends GET RESPONSE",
			cmd:      Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers:  [][]byte{sw([]byte{1}, 0x6110), sw([]byte{0xEE}, 0x6C08), sw([]byte{2}, 0x9000)},
			wantSent: []string{"00CB3FFF055C035FC10500", "00C0000010", "00C0000008"},
			wantData: []byte{1, 2},
			wantSW:   0x9000,
		},
		{
			name:    "chaining 300 bytes",
			cmd:     Command{0x00, 0x87, 0x07, 0x9A, data300, 256},
			answers: [][]byte{sw(nil, 0x9000), sw([]byte{7}, 0x9000)},
			wantSent: []string{
				"10 87 07 9A FF" + strings.Repeat("5A", 255),
				"00 87 07 9A 2D" + strings.Repeat("5A", 45) + "00",
			},
			wantData: []byte{7},
			wantSW:   0x9000,
		},
		{
			name:    "chaining 600 bytes then 61xx",
			cmd:     Command{0x00, 0x87, 0x11, 0x9A, data600, 256},
			answers: [][]byte{sw(nil, 0x9000), sw(nil, 0x9000), sw([]byte{1}, 0x6101), sw([]byte{2}, 0x9000)},
			wantSent: []string{
				"10 87 11 9A FF" + strings.Repeat("A5", 255),
				"10 87 11 9A FF" + strings.Repeat("A5", 255),
				"00 87 11 9A 5A" + strings.Repeat("A5", 90) + "00",
				"00 C0 00 00 01",
			},
			wantData: []byte{1, 2},
			wantSW:   0x9000,
		},
		{
			name:    "chained block refused",
			cmd:     Command{0x00, 0x87, 0x07, 0x9A, data300, 256},
			answers: [][]byte{sw(nil, 0x6982)},
			wantSent: []string{
				"10 87 07 9A FF" + strings.Repeat("5A", 255),
			},
			wantSW: 0x6982,
		},
		{
			name:     "61xx to a chained block",
			cmd:      Command{0x00, 0x87, 0x07, 0x9A, data300, 256},
			answers:  [][]byte{sw(nil, 0x6110)},
			wantSent: []string{"10 87 07 9A FF" + strings.Repeat("5A", 255)},
			wantErr:  "unexpected status word 6110 to a chained GENERAL AUTHENTICATE block",
		},
		{
			name:     "empty answer",
			cmd:      Command{0x00, 0xA4, 0x04, 0x00, pivAID, 256},
			answers:  [][]byte{{}},
			wantSent: []string{"00A4040005A00000030800"},
			wantErr:  "0-byte response to SELECT, too short for a status word",
		},
		{
			name:     "one byte answer",
			cmd:      Command{0x00, 0xA4, 0x04, 0x00, pivAID, 256},
			answers:  [][]byte{{0x90}},
			wantSent: []string{"00A4040005A00000030800"},
			wantErr:  "1-byte response to SELECT, too short for a status word",
		},
		{
			name:     "short answer to GET RESPONSE",
			cmd:      Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256},
			answers:  [][]byte{sw([]byte{1}, 0x6100), {0x61}},
			wantSent: []string{"00CB3FFF055C035FC10500", "00C0000000"},
			wantErr:  "1-byte response to GET DATA, too short for a status word",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{answers: tt.answers}
			data, gotSW, err := Exchange(context.Background(), card, tt.cmd)
			if len(card.sent) != len(tt.wantSent) {
				t.Errorf("sent %d commands, want %d", len(card.sent), len(tt.wantSent))
			}
			for i := range min(len(card.sent), len(tt.wantSent)) {
				if want := unhex(t, tt.wantSent[i]); !bytes.Equal(card.sent[i], want) {
					t.Errorf("command %d = % X\nwant        % X", i, card.sent[i], want)
				}
			}
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want unsupported card containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if gotSW != tt.wantSW || !bytes.Equal(data, tt.wantData) {
				t.Errorf("Exchange = % X, %s; want % X, %s", data, StatusWord(gotSW), tt.wantData, StatusWord(tt.wantSW))
			}
		})
	}
}

// loopCard answers with first, then every further command with the same answer.
type loopCard struct {
	first  [][]byte
	answer []byte
	n      int
}

func (l *loopCard) Transmit(context.Context, []byte) ([]byte, error) {
	l.n++
	if len(l.first) > 0 {
		a := l.first[0]
		l.first = l.first[1:]
		return a, nil
	}
	return l.answer, nil
}

func TestExchangeBounds(t *testing.T) {
	get := Command{0x00, 0xCB, 0x3F, 0xFF, getAuthCert, 256}
	tests := []struct {
		name     string
		answer   []byte
		wantSent int
		wantErr  string
	}{
		{"endless 61xx without data", sw(nil, 0x6101), 301, "more than 300 GET RESPONSE rounds (61xx/6Cxx) for GET DATA"},
		{"endless 6Cxx", sw(nil, 0x6C10), 301, "more than 300 GET RESPONSE rounds (61xx/6Cxx) for GET DATA"},
		{"more than 64 KiB", sw(make([]byte, 256), 0x6100), 257, "response to GET DATA longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &loopCard{answer: tt.answer}
			_, _, err := Exchange(context.Background(), card, get)
			if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want unsupported card containing %q", err, tt.wantErr)
			}
			if card.n != tt.wantSent {
				t.Errorf("sent %d commands, want %d", card.n, tt.wantSent)
			}
		})
	}
	t.Run("exactly 64 KiB is fine", func(t *testing.T) {
		var answers [][]byte
		for range 255 {
			answers = append(answers, sw(make([]byte, 256), 0x6100))
		}
		answers = append(answers, sw(make([]byte, 256), 0x9000))
		data, gotSW, err := Exchange(context.Background(), &scriptCard{answers: answers}, get)
		if err != nil || gotSW != 0x9000 || len(data) != 65536 {
			t.Fatalf("Exchange = %d bytes, %s, %v", len(data), StatusWord(gotSW), err)
		}
	})
	t.Run("exactly 300 rounds is fine", func(t *testing.T) {
		answers := [][]byte{}
		for range 300 {
			answers = append(answers, sw([]byte{1}, 0x6101))
		}
		answers = append(answers, sw([]byte{1}, 0x9000))
		data, _, err := Exchange(context.Background(), &scriptCard{answers: answers}, get)
		if err != nil || len(data) != 301 {
			t.Fatalf("Exchange = %d bytes, %v", len(data), err)
		}
	})
}

func TestExchangeContext(t *testing.T) {
	t.Run("cancelled before sending", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		card := &scriptCard{answers: [][]byte{sw(nil, 0x9000)}}
		_, _, err := Exchange(ctx, card, Command{INS: 0xA4, Le: -1})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnsupportedCard) {
			t.Fatalf("err = %v, want context.Canceled only", err)
		}
		if len(card.sent) != 0 {
			t.Errorf("sent %d commands after cancel", len(card.sent))
		}
	})
	t.Run("cancelled between GET RESPONSE rounds", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		card := &cancelCard{cancel: cancel, answer: sw([]byte{1}, 0x6101)}
		_, _, err := Exchange(ctx, card, Command{INS: 0xCB, Le: 256})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if card.n != 1 {
			t.Errorf("sent %d commands, want 1", card.n)
		}
	})
	t.Run("transport error", func(t *testing.T) {
		_, _, err := Exchange(context.Background(), &scriptCard{}, Command{INS: 0xA4, Le: -1})
		if !errors.Is(err, errNoAnswer) || errors.Is(err, ErrUnsupportedCard) {
			t.Fatalf("err = %v, want the transport's error only", err)
		}
		if want := "transmit SELECT: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("err = %q, want prefix %q", err, want)
		}
	})
}

// cancelCard cancels its context on the first command.
type cancelCard struct {
	cancel func()
	answer []byte
	n      int
}

func (c *cancelCard) Transmit(context.Context, []byte) ([]byte, error) {
	c.n++
	c.cancel()
	return c.answer, nil
}
