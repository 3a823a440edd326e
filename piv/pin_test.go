package piv

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestVerifyPIN(t *testing.T) {
	ctx := context.Background()
	card := &pivCard{pin: []byte("123456"), retries: 3}
	if err := SelectPIV(ctx, card); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		pin         string
		wantRetries int // -1: success; -2: blocked
		wantMsg     string
	}{
		{"wrong", "000000", 2, "wrong PIN, 2 retries left"},
		{"right", "123456", -1, ""},
		{"wrong again after reset", "12345", 2, "wrong PIN, 2 retries left"},
		{"wrong", "1234567", 1, "wrong PIN, 1 retries left"},
		{"last try", "12345678", 0, "wrong PIN, 0 retries left"},
		{"blocked", "123456", -2, "PIN blocked"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := VerifyPIN(ctx, card, []byte(st.pin))
			last := card.sent[len(card.sent)-1]
			want := append(unhex(t, "00 20 00 80 08"), []byte(st.pin)...)
			want = append(want, bytes.Repeat([]byte{0xFF}, 8-len(st.pin))...)
			if !bytes.Equal(last.Bytes(), want) {
				t.Errorf("command = % X, want % X", last.Bytes(), want)
			}
			switch st.wantRetries {
			case -1:
				if err != nil {
					t.Fatalf("VerifyPIN: %v", err)
				}
				return
			case -2:
				if !errors.Is(err, ErrPINBlocked) || errors.Is(err, ErrWrongPIN) || errors.Is(err, ErrUnsupportedCard) {
					t.Fatalf("err = %v, want ErrPINBlocked", err)
				}
			default:
				var wrong *WrongPINError
				if !errors.As(err, &wrong) || wrong.Retries != st.wantRetries || !errors.Is(err, ErrWrongPIN) {
					t.Fatalf("err = %#v, want *WrongPINError{%d}", err, st.wantRetries)
				}
				if got := errors.Is(err, ErrPINBlocked); got != (st.wantRetries == 0) {
					t.Errorf("errors.Is(err, ErrPINBlocked) = %v", got)
				}
			}
			if err.Error() != st.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), st.wantMsg)
			}
		})
	}
}

func TestVerifyPINErrors(t *testing.T) {
	tests := []struct {
		name        string
		pin         []byte
		answers     [][]byte
		unsupported bool
		wantErr     string
	}{
		{"empty PIN", nil, nil, false, "verify PIN: PIN must be 1 to 8 bytes, got 0"},
		{"nine bytes", []byte("123456789"), nil, false, "verify PIN: PIN must be 1 to 8 bytes, got 9"},
		{"wrong length status", []byte("1234"), [][]byte{sw(nil, 0x6700)}, true, "verify PIN: unexpected status word 6700 to VERIFY: unsupported card"},
		{"6300 without a counter", []byte("1234"), [][]byte{sw(nil, 0x6300)}, true, "verify PIN: unexpected status word 6300 to VERIFY: unsupported card"},
		{"short answer", []byte("1234"), [][]byte{{0x63}}, true, "verify PIN: 1-byte response to VERIFY, too short for a status word: unsupported card"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{answers: tt.answers}
			err := VerifyPIN(context.Background(), card, tt.pin)
			if err == nil || err.Error() != tt.wantErr || errors.Is(err, ErrUnsupportedCard) != tt.unsupported {
				t.Errorf("err = %v, want %q (unsupported %v)", err, tt.wantErr, tt.unsupported)
			}
			if len(card.sent) != len(tt.answers) {
				t.Errorf("sent %d commands", len(card.sent))
			}
		})
	}
}

func TestPINRetries(t *testing.T) {
	tests := []struct {
		name         string
		answer       []byte
		wantRetries  int
		wantVerified bool
		wantErr      string
	}{
		{"three left", sw(nil, 0x63C3), 3, false, ""},
		{"fifteen left", sw(nil, 0x63CF), 15, false, ""},
		{"verified", sw(nil, 0x9000), -1, true, ""},
		{"blocked", sw(nil, 0x6983), 0, false, ""},
		{"no PIN", sw(nil, 0x6A88), 0, false, "read PIN retries: unexpected status word 6A88 to VERIFY"},
		{"short answer", []byte{}, 0, false, "read PIN retries: 0-byte response to VERIFY, too short for a status word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{answers: [][]byte{tt.answer}}
			retries, verified, err := PINRetries(context.Background(), card)
			if got, want := card.sent[0], unhex(t, "00 20 00 80"); !bytes.Equal(got, want) {
				t.Errorf("command = % X, want % X", got, want)
			}
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want unsupported %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || retries != tt.wantRetries || verified != tt.wantVerified {
				t.Errorf("PINRetries = %d, %v, %v; want %d, %v", retries, verified, err, tt.wantRetries, tt.wantVerified)
			}
		})
	}
	t.Run("virtual card", func(t *testing.T) {
		ctx := context.Background()
		card := &pivCard{pin: []byte("123456"), retries: 3}
		if r, v, err := PINRetries(ctx, card); r != 3 || v || err != nil {
			t.Errorf("fresh: %d, %v, %v", r, v, err)
		}
		if err := VerifyPIN(ctx, card, []byte("123456")); err != nil {
			t.Fatal(err)
		}
		if r, v, err := PINRetries(ctx, card); r != -1 || !v || err != nil {
			t.Errorf("after VERIFY: %d, %v, %v", r, v, err)
		}
	})
}

// keepCard keeps the command slices it is given, as Card implementations must not.
type keepCard struct{ kept [][]byte }

func (k *keepCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	k.kept = append(k.kept, cmd)
	return sw(nil, 0x9000), nil
}

func TestVerifyPINWipesCommand(t *testing.T) {
	card := &keepCard{}
	if err := VerifyPIN(context.Background(), card, []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(card.kept[0], []byte("123456")) {
		t.Errorf("PIN still in the command after the exchange: % X", card.kept[0])
	}
}

func TestResetPINStatus(t *testing.T) {
	tests := []struct {
		name        string
		answer      []byte
		wantErr     string // "" for success
		resetUnsupp bool   // whether the error matches ErrPINResetUnsupported
		unsupported bool   // whether the error matches ErrUnsupportedCard
	}{
		{"reset", sw(nil, 0x9000), "", false, false},
		{"earlier edition 6A86", sw(nil, 0x6A86), "reset PIN status: status word 6A86: the card cannot reset its PIN status with VERIFY P1=FF: unsupported card", true, true},
		{"earlier edition 6B00", sw(nil, 0x6B00), "reset PIN status: status word 6B00: the card cannot reset its PIN status with VERIFY P1=FF: unsupported card", true, true},
		{"function not supported", sw(nil, 0x6A81), "reset PIN status: status word 6A81: the card cannot reset its PIN status with VERIFY P1=FF: unsupported card", true, true},
		{"instruction not supported", sw(nil, 0x6D00), "reset PIN status: status word 6D00: the card cannot reset its PIN status with VERIFY P1=FF: unsupported card", true, true},
		{"no such PIN", sw(nil, 0x6A88), "reset PIN status: unexpected status word 6A88: unsupported card", false, true},
		{"security status", sw(nil, 0x6982), "reset PIN status: unexpected status word 6982: unsupported card", false, true},
		{"wrong PIN counter", sw(nil, 0x63C2), "reset PIN status: unexpected status word 63C2: unsupported card", false, true},
		{"short answer", []byte{0x90}, "reset PIN status: 1-byte response to VERIFY, too short for a status word: unsupported card", false, true},
		{"no answer", nil, "reset PIN status: transmit VERIFY: fake card: no more answers", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{}
			if tt.answer != nil {
				card.answers = [][]byte{tt.answer}
			}
			err := ResetPINStatus(context.Background(), card)
			if len(card.sent) != 1 || !bytes.Equal(card.sent[0], unhex(t, "00 20 FF 80")) {
				t.Errorf("sent % X, want 00 20 FF 80 once", card.sent)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ResetPINStatus: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrPINResetUnsupported); got != tt.resetUnsupp {
				t.Errorf("errors.Is(err, ErrPINResetUnsupported) = %v, want %v", got, tt.resetUnsupp)
			}
			if got := errors.Is(err, ErrUnsupportedCard); got != tt.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupportedCard) = %v, want %v", got, tt.unsupported)
			}
		})
	}
}
