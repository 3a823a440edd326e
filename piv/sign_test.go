package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"testing"

	_ "crypto/sha1"
	_ "crypto/sha512"
)

// verifiedCard is a virtual PIV card holding key whose PIN "123456" has been verified.
func verifiedCard(t *testing.T, key crypto.Signer) *pivCard {
	t.Helper()
	card := &pivCard{key: key, pin: []byte("123456"), retries: 3}
	ctx := context.Background()
	if err := SelectPIV(ctx, card); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPIN(ctx, card, []byte("123456")); err != nil {
		t.Fatal(err)
	}
	return card
}

func TestGeneralAuthenticateRSA(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			card := verifiedCard(t, testRSAKey)
			hh := h.New()
			hh.Write([]byte("sign me for " + h.String()))
			digest := hh.Sum(nil)
			block, err := PKCS1v15Pad(h, digest, 256)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := GeneralAuthenticate(context.Background(), card, AlgRSA2048, SlotAuthentication, block)
			if err != nil {
				t.Fatalf("GeneralAuthenticate: %v", err)
			}
			if len(sig) != 256 {
				t.Fatalf("signature is %d bytes", len(sig))
			}
			if err := rsa.VerifyPKCS1v15(&testRSAKey.PublicKey, h, digest, sig); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if !bytes.Equal(card.signed[0], block) {
				t.Errorf("card signed % X..., want the padded block", card.signed[0][:8])
			}
			// 7C 82 01 06 82 00 81 82 01 00 <256> is 266 bytes: two chained blocks, and the
			// 264-byte answer needs a GET RESPONSE.
			var ga []Command
			getResp := 0
			for _, c := range card.sent {
				switch c.INS {
				case 0x87:
					ga = append(ga, c)
				case 0xC0:
					getResp++
				}
			}
			if len(ga) != 2 || ga[0].CLA != 0x10 || ga[1].CLA != 0x00 || len(ga[0].Data) != 255 || len(ga[1].Data) != 11 {
				t.Errorf("GENERAL AUTHENTICATE blocks: %+v", ga)
			}
			if ga[0].P1 != 0x07 || ga[0].P2 != 0x9A || !bytes.Equal(ga[0].Data[:10], unhex(t, "7C 82 01 06 82 00 81 82 01 00")) {
				t.Errorf("first block starts % X", ga[0].Bytes()[:15])
			}
			if getResp != 1 {
				t.Errorf("%d GET RESPONSE rounds, want 1", getResp)
			}
		})
	}
}

func TestGeneralAuthenticateECC(t *testing.T) {
	card := verifiedCard(t, testECKey)
	digest := sha256.Sum256([]byte("sign me"))
	sig, err := GeneralAuthenticate(context.Background(), card, AlgECCP256, SlotAuthentication, digest[:])
	if err != nil {
		t.Fatalf("GeneralAuthenticate: %v", err)
	}
	if !ecdsa.VerifyASN1(&testECKey.PublicKey, digest[:], sig) {
		t.Errorf("signature does not verify")
	}
	last := card.sent[len(card.sent)-1]
	want := append(append(unhex(t, "00 87 11 9A 26 7C 24 82 00 81 20"), digest[:]...), 0x00)
	if !bytes.Equal(last.Bytes(), want) {
		t.Errorf("command = % X\nwant      % X", last.Bytes(), want)
	}
}

func TestGeneralAuthenticateInputErrors(t *testing.T) {
	tests := []struct {
		name    string
		alg     byte
		input   []byte
		wantErr string
	}{
		{"empty", AlgECCP256, nil, "general authenticate: empty input"},
		{"RSA not padded", AlgRSA2048, make([]byte, 32), "general authenticate: RSA-2048 input is 32 bytes, want 256"},
		{"too long", AlgECCP256, make([]byte, 1025), "general authenticate: input of 1025 bytes is longer than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{}
			_, err := GeneralAuthenticate(context.Background(), card, tt.alg, SlotAuthentication, tt.input)
			if err == nil || err.Error() != tt.wantErr || errors.Is(err, ErrUnsupportedCard) {
				t.Errorf("err = %v, want plain %q", err, tt.wantErr)
			}
			if len(card.sent) != 0 {
				t.Errorf("sent %d commands", len(card.sent))
			}
		})
	}
}

func TestGeneralAuthenticateCardErrors(t *testing.T) {
	digest := sha256.Sum256([]byte("x"))
	goodEC := func() []byte {
		card := verifiedCard(t, testECKey)
		sig, err := GeneralAuthenticate(context.Background(), card, AlgECCP256, SlotAuthentication, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}()
	ok := func(b []byte) [][]byte { return [][]byte{sw(b, 0x9000)} }
	tests := []struct {
		name    string
		alg     byte
		answers [][]byte
		wantErr string
	}{
		{"PIN not verified", AlgECCP256, [][]byte{sw(nil, 0x6982)}, "general authenticate: PIN not verified (GENERAL AUTHENTICATE answered 6982)"},
		{"no such key", AlgECCP256, [][]byte{sw(nil, 0x6A86)}, "general authenticate: no key for algorithm 11 in slot 9A (GENERAL AUTHENTICATE answered 6A86)"},
		{"input rejected", AlgECCP256, [][]byte{sw(nil, 0x6A80)}, "general authenticate: card rejected the input (GENERAL AUTHENTICATE answered 6A80)"},
		{"unknown status word", AlgECCP256, [][]byte{sw(nil, 0x6F00)}, "general authenticate: unexpected status word 6F00 to GENERAL AUTHENTICATE"},
		{"short answer", AlgECCP256, [][]byte{{0x90}}, "general authenticate: 1-byte response to GENERAL AUTHENTICATE, too short for a status word"},
		{"malformed TLV", AlgECCP256, ok(unhex(t, "7C 10 82 02")), "general authenticate: malformed response: parse TLV at offset 0: tag 7C: length 16 past end (2 left)"},
		{"malformed inside 7C", AlgECCP256, ok(unhex(t, "7C 02 82 05")), "general authenticate: malformed response: in tag 7C: parse TLV at offset 0: tag 82: length 5 past end (0 left)"},
		{"no 7C", AlgECCP256, ok(AppendTLV(nil, 0x82, goodEC)), "general authenticate: malformed response: no authentication template (tag 7C)"},
		{"no 82", AlgECCP256, ok(AppendTLV(nil, 0x7C, AppendTLV(nil, 0x81, goodEC))), "general authenticate: malformed response: no signature (tag 82)"},
		{"empty 82", AlgECCP256, ok(unhex(t, "7C 02 82 00")), "general authenticate: malformed response: empty signature"},
		{"RSA signature too short", AlgRSA2048, append([][]byte{sw(nil, 0x9000)}, ok(AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, make([]byte, 255))))...), "general authenticate: malformed response: RSA-2048 signature is 255 bytes, want 256"},
		{"ECDSA not DER", AlgECCP256, ok(AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, make([]byte, 64)))), "general authenticate: malformed response: signature is not a DER ECDSA signature"},
		{"ECDSA trailing bytes", AlgECCP256, ok(AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, append(bytes.Clone(goodEC), 0)))), "general authenticate: malformed response: signature is not a DER ECDSA signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := digest[:]
			if tt.alg == AlgRSA2048 {
				input = make([]byte, 256)
			}
			sig, err := GeneralAuthenticate(context.Background(), &scriptCard{answers: tt.answers}, tt.alg, SlotAuthentication, input)
			if sig != nil {
				t.Errorf("got a signature with error %v", err)
			}
			if !errors.Is(err, ErrUnsupportedCard) || err.Error() != tt.wantErr+": unsupported card" {
				t.Errorf("err = %v\nwant %s: unsupported card", err, tt.wantErr)
			}
		})
	}
	t.Run("PIN not verified on the virtual card", func(t *testing.T) {
		card := &pivCard{key: testECKey, pin: []byte("123456"), retries: 3}
		_, err := GeneralAuthenticate(context.Background(), card, AlgECCP256, SlotAuthentication, digest[:])
		if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), "PIN not verified") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("algorithm the key does not have", func(t *testing.T) {
		card := verifiedCard(t, testRSAKey)
		_, err := GeneralAuthenticate(context.Background(), card, AlgECCP256, SlotAuthentication, digest[:])
		if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), "no key for algorithm 11 in slot 9A") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPKCS1v15Pad(t *testing.T) {
	k := testRSAKey
	e := big.NewInt(int64(k.E))
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, 0} {
		name := "DigestInfo given"
		if h != 0 {
			name = h.String()
		}
		t.Run(name, func(t *testing.T) {
			var digest []byte
			if h != 0 {
				hh := h.New()
				hh.Write([]byte("message"))
				digest = hh.Sum(nil)
			} else {
				d := sha256.Sum256([]byte("message"))
				digest = append(bytes.Clone(digestInfoPrefix[crypto.SHA256]), d[:]...)
			}
			em, err := PKCS1v15Pad(h, digest, k.Size())
			if err != nil {
				t.Fatal(err)
			}
			sig, err := rsa.SignPKCS1v15(nil, k, h, digest)
			if err != nil {
				t.Fatal(err)
			}
			// Raw RSA of crypto/rsa's signature gives back the block it padded.
			got := new(big.Int).Exp(new(big.Int).SetBytes(sig), e, k.N).FillBytes(make([]byte, k.Size()))
			if !bytes.Equal(got, em) {
				t.Errorf("PKCS1v15Pad = % X\ncrypto/rsa   % X", em, got)
			}
			// And raw RSA of the block is crypto/rsa's signature.
			mine := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.N).FillBytes(make([]byte, k.Size()))
			if !bytes.Equal(mine, sig) {
				t.Errorf("raw RSA of the padded block differs from rsa.SignPKCS1v15")
			}
		})
	}
	t.Run("smallest key that fits", func(t *testing.T) {
		em, err := PKCS1v15Pad(crypto.SHA256, make([]byte, 32), 51+11)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, "00 01 FF FF FF FF FF FF FF FF 00 30 31"); !bytes.Equal(em[:13], want) {
			t.Errorf("block starts % X", em[:13])
		}
	})
	errTests := []struct {
		name     string
		hash     crypto.Hash
		digest   int
		keyBytes int
		wantErr  string
	}{
		{"MD5", crypto.MD5, 16, 256, "pkcs1 pad: unsupported hash MD5"},
		{"SHA-224", crypto.SHA224, 28, 256, "pkcs1 pad: unsupported hash SHA-224"},
		{"wrong digest length", crypto.SHA256, 20, 256, "pkcs1 pad: SHA-256 digest is 20 bytes, want 32"},
		{"key too small", crypto.SHA512, 64, 93, "pkcs1 pad: key of 93 bytes too small for 83 bytes of DigestInfo"},
		{"negative key size", crypto.SHA256, 32, -1, "pkcs1 pad: key of -1 bytes too small"},
		{"key too large", crypto.SHA256, 32, 1 << 20, "pkcs1 pad: key of 1048576 bytes too large"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			em, err := PKCS1v15Pad(tt.hash, make([]byte, tt.digest), tt.keyBytes)
			if em != nil || err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("PKCS1v15Pad = %d bytes, %v; want error %q", len(em), err, tt.wantErr)
			}
		})
	}
}
