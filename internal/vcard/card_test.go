package vcard

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

func TestControlCodes(t *testing.T) {
	custom := []byte{0x3B, 0x02, 0x14, 0x50}
	tests := []struct {
		name    string
		atr     []byte
		wantATR []byte
	}{
		{"default ATR", nil, DefaultATR()},
		{"custom ATR", custom, custom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cardConfig(t, "p256")
			cfg.ATR = tt.atr
			card, f := insert(t, cfg)
			if got := f.atr(); !bytes.Equal(got, tt.wantATR) {
				t.Fatalf("ATR = % X, want % X", got, tt.wantATR)
			}
			// Power off, power on and reset are not answered: the next frame
			// the card sends must be the answer to the next ATR request.
			for _, code := range []byte{ctrlOff, ctrlOn, ctrlReset} {
				f.send([]byte{code})
			}
			if got := f.atr(); !bytes.Equal(got, tt.wantATR) {
				t.Fatalf("ATR after power codes = % X, want % X", got, tt.wantATR)
			}
			if err := card.WaitSeen(context.Background()); err != nil {
				t.Fatalf("WaitSeen: %v", err)
			}
			if len(card.Commands()) != 0 {
				t.Errorf("control codes were recorded as commands: % X", card.Commands())
			}
		})
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name     string
		cmd      []byte
		wantSW   uint16
		selected bool // whether the command should leave PIV selected
	}{
		{"GET DATA before SELECT", getDataCert, 0x6D00, false},
		{"VERIFY before SELECT", verifyCmd("123456"), 0x6D00, false},
		{"GENERAL AUTHENTICATE before SELECT", generalAuthCmds(0x11, dynAuth(make([]byte, 32)), 0)[0], 0x6D00, false},
		{"GET RESPONSE before SELECT", []byte{0x00, 0xC0, 0x00, 0x00, 0x00}, 0x6985, false},
		{"unknown INS", []byte{0x00, 0xFD, 0x00, 0x00}, 0x6D00, false},
		{"wrong CLA", []byte{0x80, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, 0x6E00, false},
		{"SELECT other AID", []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x03}, 0x6A82, false},
		{"SELECT too short AID", []byte{0x00, 0xA4, 0x04, 0x00, 0x04, 0xA0, 0x00, 0x00, 0x03}, 0x6A82, false},
		{"SELECT wrong P1", []byte{0x00, 0xA4, 0x00, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, 0x6A86, false},
		{"SELECT chained", []byte{0x10, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, 0x6884, false},
		{"SELECT RID", selectShort, 0x9000, true},
		{"SELECT full AID", selectFull, 0x9000, true},
		{"SELECT without Le", selectShort[:len(selectShort)-1], 0x9000, true},
		{"SELECT no response data", []byte{0x00, 0xA4, 0x04, 0x0C, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, 0x9000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f := insert(t, cardConfig(t, "p256"))
			data, sw := f.exchange(tt.cmd)
			if sw != tt.wantSW {
				t.Fatalf("SW = %04X, want %04X", sw, tt.wantSW)
			}
			if sw != 0x9000 && len(data) != 0 {
				t.Errorf("error status came with data % X", data)
			}
			if sw == 0x9000 && tt.cmd[3] == 0x00 {
				checkAPT(t, data)
			}
			_, sw = f.exchange(pinStatus)
			if got := sw != 0x6D00; got != tt.selected {
				t.Errorf("PIV selected afterwards = %v (VERIFY status SW %04X), want %v", got, sw, tt.selected)
			}
		})
	}
}

// checkAPT checks SELECT's application property template.
func checkAPT(t *testing.T, data []byte) {
	t.Helper()
	top, err := parseTLVs(data)
	if err != nil || len(top) != 1 || top[0].tag != 0x61 {
		t.Fatalf("SELECT answer % X is not one 61 template", data)
	}
	inner, err := parseTLVs(top[0].value)
	if err != nil {
		t.Fatalf("parse template: %v", err)
	}
	var pix, rid []byte
	for _, o := range inner {
		switch o.tag {
		case 0x4F:
			pix = o.value
		case 0x79:
			sub, err := parseTLVs(o.value)
			if err != nil || len(sub) != 1 || sub[0].tag != 0x4F {
				t.Fatalf("79 template % X malformed", o.value)
			}
			rid = sub[0].value
		}
	}
	if !bytes.Equal(pix, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00}) {
		t.Errorf("4F = % X, want the PIV PIX", pix)
	}
	if !bytes.Equal(rid, []byte{0xA0, 0x00, 0x00, 0x03, 0x08}) {
		t.Errorf("79/4F = % X, want the NIST RID", rid)
	}
}

// wantObject builds the certificate data object the card must return,
// independently of the card's own encoder.
func wantObject(t *testing.T, cert []byte, compress bool) []byte {
	t.Helper()
	info := byte(0x00)
	if compress {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(cert)
		zw.Close()
		cert, info = buf.Bytes(), 0x01
	}
	inner := append(append([]byte{0x70}, berLen(len(cert))...), cert...)
	inner = append(inner, 0x71, 0x01, info, 0xFE, 0x00)
	return append(append([]byte{0x53}, berLen(len(inner))...), inner...)
}

// certFromObject unwraps 53 / 70 / 71 as a host would and parses the result.
func certFromObject(t *testing.T, obj []byte) *x509.Certificate {
	t.Helper()
	top, err := parseTLVs(obj)
	if err != nil || len(top) != 1 || top[0].tag != 0x53 {
		t.Fatalf("object is not one 53 object: %v", err)
	}
	inner, err := parseTLVs(top[0].value)
	if err != nil {
		t.Fatalf("parse 53 contents: %v", err)
	}
	var der []byte
	var info byte
	for _, o := range inner {
		switch o.tag {
		case 0x70:
			der = o.value
		case 0x71:
			info = o.value[0]
		}
	}
	if info&1 == 1 {
		zr, err := gzip.NewReader(bytes.NewReader(der))
		if err != nil {
			t.Fatalf("gunzip certificate: %v", err)
		}
		if der, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip certificate: %v", err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return cert
}

func TestGetData(t *testing.T) {
	tests := []struct {
		name      string
		alg       string
		compress  bool
		chunk     int
		cmd       []byte
		wantFirst uint16 // SW of the first answer
		wantCN    string
	}{
		{"rsa default chunk", "rsa2048", false, 0, getDataCert, 0x6100, "555123456789"},
		{"rsa compressed", "rsa2048", true, 0, getDataCert, 0, "555123456789"},
		{"p256 small chunks", "p256", false, 100, getDataCert, 0x6100, "555000000001"},
		{"p256 compressed small chunks", "p256", true, 37, getDataCert, 0, "555000000001"},
		{"Le smaller than chunk", "rsa2048", false, 0, append(bytes.Clone(getDataCert[:10]), 0x80), 0x6100, "555123456789"},
		{"no Le", "rsa2048", false, 0, getDataCert[:10], 0x6100, "555123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cardConfig(t, tt.alg)
			cfg.Compress, cfg.ChunkSize = tt.compress, tt.chunk
			_, f := insert(t, cfg)
			f.exchange(selectShort)
			want := wantObject(t, cfg.Certificate, tt.compress)

			first := f.transmit(tt.cmd)
			data, sw := splitSW(first)
			chunk := cmp(tt.chunk, 256)
			if len(tt.cmd) == 11 && tt.cmd[10] != 0 {
				chunk = min(chunk, int(tt.cmd[10]))
			}
			if len(data) != min(chunk, len(want)) {
				t.Errorf("first answer has %d data bytes, want %d", len(data), min(chunk, len(want)))
			}
			if tt.wantFirst != 0 && sw != tt.wantFirst && sw != 0x6100|uint16(len(want)-len(data)) {
				t.Errorf("first SW = %04X", sw)
			}
			if rest := len(want) - len(data); rest >= 256 && sw != 0x6100 || rest > 0 && rest < 256 && sw != 0x6100|uint16(rest) {
				t.Errorf("first SW = %04X with %d bytes left", sw, rest)
			}
			for sw>>8 == 0x61 {
				var more []byte
				le := cmp(int(sw&0xFF), 256)
				more, sw = splitSW(f.transmit([]byte{0x00, 0xC0, 0x00, 0x00, byte(le)}))
				if limit := min(cmp(tt.chunk, 256), le); len(more) > limit {
					t.Fatalf("GET RESPONSE gave %d bytes, more than %d", len(more), limit)
				}
				data = append(data, more...)
			}
			if sw != 0x9000 {
				t.Fatalf("final SW = %04X, want 9000", sw)
			}
			if !bytes.Equal(data, want) {
				t.Fatalf("object differs:\n got % X\nwant % X", data, want)
			}
			if cn := certFromObject(t, data).Subject.CommonName; cn != tt.wantCN {
				t.Errorf("CN = %q, want %q", cn, tt.wantCN)
			}
			if _, sw := f.exchange([]byte{0x00, 0xC0, 0x00, 0x00, 0x00}); sw != 0x6985 {
				t.Errorf("GET RESPONSE after the last chunk: SW = %04X, want 6985", sw)
			}
		})
	}
}

// cmp returns v, or def when v is zero.
func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func TestGetDataErrors(t *testing.T) {
	tests := []struct {
		name   string
		cmds   [][]byte
		wantSW uint16
	}{
		{"other object", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00}}, 0x6A82},
		{"discovery object", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00}}, 0x6A82},
		{"wrong P1P2", [][]byte{{0x00, 0xCB, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00}}, 0x6A86},
		{"no tag list", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x4C, 0x03, 0x5F, 0xC1, 0x05, 0x00}}, 0x6A80},
		{"truncated tag list", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x04, 0x5C, 0x03, 0x5F, 0xC1, 0x00}}, 0x6A80},
		{"trailing bytes", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x06, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00, 0x00}}, 0x6A80},
		{"no data", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x00}}, 0x6A80},
		{"chained", [][]byte{{0x10, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05}}, 0x6884},
		{"Lc longer than data", [][]byte{{0x00, 0xCB, 0x3F, 0xFF, 0x09, 0x5C, 0x03, 0x5F, 0xC1, 0x05}}, 0x6700},
		{"GET RESPONSE after another command", [][]byte{getDataCert, pinStatus, {0x00, 0xC0, 0x00, 0x00, 0x00}}, 0x6985},
		{"GET RESPONSE wrong P1P2", [][]byte{getDataCert, {0x00, 0xC0, 0x01, 0x00, 0x00}}, 0x6A86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f := insert(t, cardConfig(t, "rsa2048"))
			f.exchange(selectShort)
			var sw uint16
			for _, cmd := range tt.cmds {
				_, sw = splitSW(f.transmit(cmd))
			}
			if sw != tt.wantSW {
				t.Fatalf("SW = %04X, want %04X", sw, tt.wantSW)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	type step struct {
		cmd    []byte
		wantSW uint16
	}
	wrong := verifyCmd("000000")
	tests := []struct {
		name        string
		pin         string
		retries     int
		steps       []step
		wantRetries int
	}{
		{"status before verify", "", 0, []step{{pinStatus, 0x63C3}}, 3},
		{"good PIN", "", 0, []step{{verifyCmd("123456"), 0x9000}, {pinStatus, 0x9000}}, 3},
		{"custom 8-digit PIN", "87654321", 0, []step{{verifyCmd("123456"), 0x63C2}, {verifyCmd("87654321"), 0x9000}}, 3},
		{"wrong PIN counts down and good PIN resets", "", 0, []step{
			{wrong, 0x63C2}, {pinStatus, 0x63C2}, {wrong, 0x63C1},
			{verifyCmd("123456"), 0x9000}, {pinStatus, 0x9000},
		}, 3},
		{"wrong PIN clears verification", "", 0, []step{
			{verifyCmd("123456"), 0x9000}, {wrong, 0x63C2}, {pinStatus, 0x63C2},
		}, 2},
		{"blocked", "", 0, []step{
			{wrong, 0x63C2}, {wrong, 0x63C1}, {wrong, 0x6983},
			{pinStatus, 0x6983}, {verifyCmd("123456"), 0x6983},
		}, 0},
		{"retry counter start", "", 5, []step{{pinStatus, 0x63C5}, {wrong, 0x63C4}}, 4},
		{"starts blocked", "", -1, []step{{pinStatus, 0x6983}, {verifyCmd("123456"), 0x6983}}, 0},
		{"P1 FF resets verification", "", 0, []step{
			{verifyCmd("123456"), 0x9000}, {[]byte{0x00, 0x20, 0xFF, 0x80}, 0x9000}, {pinStatus, 0x63C3},
		}, 3},
		{"PIN not padded", "", 0, []step{{[]byte{0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6'}, 0x6A80}}, 3},
		{"other PIN reference", "", 0, []step{{[]byte{0x00, 0x20, 0x00, 0x81}, 0x6A88}}, 3},
		{"wrong P1", "", 0, []step{{[]byte{0x00, 0x20, 0x01, 0x80}, 0x6A86}}, 3},
		{"chained", "", 0, []step{{append([]byte{0x10}, verifyCmd("123456")[1:]...), 0x6884}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cardConfig(t, "p256")
			cfg.PIN, cfg.Retries = tt.pin, tt.retries
			card, f := insert(t, cfg)
			f.exchange(selectShort)
			for i, s := range tt.steps {
				if _, sw := f.exchange(s.cmd); sw != s.wantSW {
					t.Fatalf("step %d (% X): SW = %04X, want %04X", i, head(s.cmd), sw, s.wantSW)
				}
			}
			if got := card.RetriesLeft(); got != tt.wantRetries {
				t.Errorf("RetriesLeft = %d, want %d", got, tt.wantRetries)
			}
		})
	}
}

// sha256DigestInfo is the DER DigestInfo prefix for a SHA-256 hash.
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// pkcs1Block pads a SHA-256 digest as EMSA-PKCS1-v1_5 for a 2048-bit key.
func pkcs1Block(digest []byte) []byte {
	t := append(bytes.Clone(sha256DigestInfo), digest...)
	block := make([]byte, 256)
	block[1] = 0x01
	for i := 2; i < 256-len(t)-1; i++ {
		block[i] = 0xFF
	}
	copy(block[256-len(t):], t)
	return block
}

// signature unwraps 7C { 82 sig }.
func signature(t *testing.T, data []byte) []byte {
	t.Helper()
	outer, err := parseTLVs(data)
	if err != nil || len(outer) != 1 || outer[0].tag != 0x7C {
		t.Fatalf("answer % X is not one 7C object", head(data))
	}
	inner, err := parseTLVs(outer[0].value)
	if err != nil || len(inner) != 1 || inner[0].tag != 0x82 {
		t.Fatalf("7C contents % X are not one 82 object", head(outer[0].value))
	}
	return inner[0].value
}

func TestGeneralAuthenticate(t *testing.T) {
	digest := sha256.Sum256([]byte("sign me"))
	tests := []struct {
		name  string
		alg   string
		block int // command chaining block size; 0 sends one APDU
	}{
		{"rsa2048 extended APDU", "rsa2048", 0},
		{"rsa2048 chained", "rsa2048", 255},
		{"rsa2048 chained small blocks", "rsa2048", 64},
		{"p256 one APDU", "p256", 0},
		{"p256 chained", "p256", 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cardConfig(t, tt.alg)
			_, f := insert(t, cfg)
			f.exchange(selectShort)
			if _, sw := f.exchange(verifyCmd("123456")); sw != 0x9000 {
				t.Fatalf("VERIFY SW = %04X", sw)
			}
			alg, input := byte(0x11), digest[:]
			if tt.alg == "rsa2048" {
				alg, input = 0x07, pkcs1Block(digest[:])
			}
			cmds := generalAuthCmds(alg, dynAuth(input), tt.block)
			if tt.block > 0 && len(cmds) < 2 {
				t.Fatalf("test sends %d command, want a chain", len(cmds))
			}
			for i, cmd := range cmds[:len(cmds)-1] {
				if _, sw := f.exchange(cmd); sw != 0x9000 {
					t.Fatalf("chained block %d: SW = %04X, want 9000", i, sw)
				}
			}
			data, sw := f.exchange(cmds[len(cmds)-1])
			if sw != 0x9000 {
				t.Fatalf("GENERAL AUTHENTICATE SW = %04X, want 9000", sw)
			}
			sig := signature(t, data)
			switch pub := cfg.Key.Public().(type) {
			case *rsa.PublicKey:
				if len(sig) != 256 {
					t.Errorf("RSA result is %d bytes, want 256", len(sig))
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Errorf("verify RSA signature: %v", err)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Errorf("ECDSA signature does not verify")
				}
			}
		})
	}
}

func TestGeneralAuthenticateErrors(t *testing.T) {
	digest := make([]byte, 32)
	tests := []struct {
		name   string
		alg    string
		verify bool
		cmds   [][]byte
		wantSW uint16
	}{
		{"p256 before VERIFY", "p256", false, generalAuthCmds(0x11, dynAuth(digest), 0), 0x6982},
		{"rsa before VERIFY chained", "rsa2048", false, generalAuthCmds(0x07, dynAuth(make([]byte, 256)), 200), 0x6982},
		{"rsa alg on p256 key", "p256", true, generalAuthCmds(0x07, dynAuth(make([]byte, 256)), 200), 0x6A80},
		{"p256 alg on rsa key", "rsa2048", true, generalAuthCmds(0x11, dynAuth(digest), 0), 0x6A80},
		{"p384 alg", "p256", true, generalAuthCmds(0x14, dynAuth(digest), 0), 0x6A80},
		{"other slot", "p256", true, [][]byte{append([]byte{0x00, 0x87, 0x11, 0x9C, 38}, dynAuth(digest)...)}, 0x6A88},
		{"short digest", "p256", true, generalAuthCmds(0x11, dynAuth(digest[:31]), 0), 0x6A80},
		{"rsa block too short", "rsa2048", true, generalAuthCmds(0x07, dynAuth(make([]byte, 255)), 100), 0x6A80},
		{"rsa block not below modulus", "rsa2048", true, generalAuthCmds(0x07, dynAuth(bytes.Repeat([]byte{0xFF}, 256)), 100), 0x6A80},
		{"no 82 tag", "p256", true, generalAuthCmds(0x11, []byte{0x7C, 0x22, 0x81, 0x20}, 0), 0x6A80},
		{"not 7C", "p256", true, generalAuthCmds(0x11, append([]byte{0x7D, 0x24, 0x82, 0x00, 0x81, 0x20}, digest...), 0), 0x6A80},
		{"7C length past end", "p256", true, generalAuthCmds(0x11, append([]byte{0x7C, 0x30, 0x82, 0x00, 0x81, 0x20}, digest...), 0), 0x6A80},
		{"extra tag", "p256", true, generalAuthCmds(0x11, append([]byte{0x7C, 0x26, 0x80, 0x00, 0x82, 0x00, 0x81, 0x20}, digest...), 0), 0x6A80},
		{"no data", "p256", true, [][]byte{{0x00, 0x87, 0x11, 0x9A}}, 0x6A80},
		{"chain interrupted", "p256", true, append(generalAuthCmds(0x11, dynAuth(digest), 16)[:1], []byte{0x00, 0x87, 0x11, 0x9A, 0x04, 0xAA, 0xBB, 0xCC, 0xDD}), 0x6A80},
		{"chain too long", "p256", true, generalAuthCmds(0x11, make([]byte, 5000), 250)[:17], 0x6700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f := insert(t, cardConfig(t, tt.alg))
			f.exchange(selectShort)
			if tt.verify {
				f.exchange(verifyCmd("123456"))
			}
			var sw uint16
			for _, cmd := range tt.cmds {
				_, sw = f.exchange(cmd)
			}
			if sw != tt.wantSW {
				t.Fatalf("SW = %04X, want %04X", sw, tt.wantSW)
			}
		})
	}
}

func TestPowerClearsVerification(t *testing.T) {
	digest := make([]byte, 32)
	for _, code := range []byte{ctrlOff, ctrlOn, ctrlReset} {
		t.Run([]string{"power off", "power on", "reset"}[code], func(t *testing.T) {
			card, f := insert(t, cardConfig(t, "p256"))
			f.exchange(selectShort)
			f.exchange(verifyCmd("123456"))
			ga := generalAuthCmds(0x11, dynAuth(digest), 0)[0]
			if _, sw := f.exchange(ga); sw != 0x9000 {
				t.Fatalf("GENERAL AUTHENTICATE after VERIFY: SW = %04X", sw)
			}
			f.send([]byte{code})
			if _, sw := f.exchange(ga); sw != 0x6D00 {
				t.Errorf("GENERAL AUTHENTICATE after control %d without SELECT: SW = %04X, want 6D00", code, sw)
			}
			f.exchange(selectShort)
			if _, sw := f.exchange(ga); sw != 0x6982 {
				t.Errorf("GENERAL AUTHENTICATE after control %d: SW = %04X, want 6982", code, sw)
			}
			if _, sw := f.exchange(pinStatus); sw != 0x63C3 {
				t.Errorf("PIN status after control %d: SW = %04X, want 63C3", code, sw)
			}
			if card.RetriesLeft() != 3 {
				t.Errorf("RetriesLeft = %d, want 3", card.RetriesLeft())
			}
		})
	}
}

func TestPINResetSW(t *testing.T) {
	digest := make([]byte, 32)
	resetPIN := []byte{0x00, 0x20, 0xFF, 0x80}
	tests := []struct {
		name         string
		resetSW      uint16 // Config.PINResetSW
		wantSW       uint16 // the answer to VERIFY P1 FF
		wantVerified bool   // whether the PIN is still verified after it
	}{
		{"SP 800-73-4 card", 0, 0x9000, false},
		{"earlier edition, 6A86", 0x6A86, 0x6A86, true},
		{"earlier edition, 6B00", 0x6B00, 0x6B00, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cardConfig(t, "p256")
			cfg.PINResetSW = tt.resetSW
			card, f := insert(t, cfg)
			f.exchange(selectShort)
			if card.PINVerified() {
				t.Fatal("PINVerified before VERIFY")
			}
			if _, sw := f.exchange(verifyCmd("123456")); sw != 0x9000 || !card.PINVerified() {
				t.Fatalf("VERIFY: SW = %04X, PINVerified = %v", sw, card.PINVerified())
			}
			if _, sw := f.exchange(resetPIN); sw != tt.wantSW {
				t.Errorf("VERIFY P1 FF: SW = %04X, want %04X", sw, tt.wantSW)
			}
			if got := card.PINVerified(); got != tt.wantVerified {
				t.Errorf("PINVerified after VERIFY P1 FF = %v, want %v", got, tt.wantVerified)
			}
			wantStatus, wantGA := uint16(0x63C3), uint16(0x6982)
			if tt.wantVerified {
				wantStatus, wantGA = 0x9000, 0x9000
			}
			if _, sw := f.exchange(pinStatus); sw != wantStatus {
				t.Errorf("PIN status after VERIFY P1 FF: SW = %04X, want %04X", sw, wantStatus)
			}
			ga := generalAuthCmds(0x11, dynAuth(digest), 0)[0]
			if _, sw := f.exchange(ga); sw != wantGA {
				t.Errorf("GENERAL AUTHENTICATE after VERIFY P1 FF: SW = %04X, want %04X", sw, wantGA)
			}
			// A card reset clears every card, refusing or not.
			f.send([]byte{ctrlReset})
			f.exchange(selectShort)
			if _, sw := f.exchange(pinStatus); sw != 0x63C3 || card.PINVerified() {
				t.Errorf("after a reset: PIN status SW = %04X, PINVerified = %v; want 63C3, false", sw, card.PINVerified())
			}
		})
	}
}

func TestFaults(t *testing.T) {
	const slowDelay = 400 * time.Millisecond
	tests := []struct {
		fault Fault
		check func(t *testing.T, card *Card, f *fakeVPCD, want []byte)
	}{
		{FaultNone, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			if data, sw := f.exchange(getDataCert); sw != 0x9000 || !bytes.Equal(data, want) {
				t.Errorf("GET DATA: SW %04X, %d bytes; want the object", sw, len(data))
			}
		}},
		{FaultNoPIV, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			if _, sw := f.exchange(selectFull); sw != 0x6A82 {
				t.Errorf("SELECT: SW = %04X, want 6A82", sw)
			}
			if _, sw := f.exchange(getDataCert); sw != 0x6D00 {
				t.Errorf("GET DATA: SW = %04X, want 6D00", sw)
			}
		}},
		{FaultNoCertificate, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			if _, sw := f.exchange(getDataCert); sw != 0x6A82 {
				t.Errorf("GET DATA: SW = %04X, want 6A82", sw)
			}
		}},
		{FaultMalformedTLV, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			data, sw := f.exchange(getDataCert)
			if sw != 0x9000 || len(data) < 4 || data[0] != 0x53 {
				t.Fatalf("GET DATA: SW %04X, % X...; want a 53 object", sw, head(data))
			}
			if _, err := parseTLVs(data); err == nil {
				t.Errorf("answer parses as TLV, want a length past the end")
			}
			if !bytes.Equal(data[len(data)-(len(want)-4):], want[4:]) {
				t.Errorf("53 contents differ from the certificate object's")
			}
		}},
		{FaultGarbage, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			data, sw := f.exchange(getDataCert)
			if sw != 0x9000 || len(data) < 16 || data[0] == 0x53 {
				t.Errorf("GET DATA: SW %04X, %d bytes starting % X; want random bytes and 9000", sw, len(data), head(data))
			}
		}},
		{FaultSlow, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			start := time.Now()
			f.atr()
			if d := time.Since(start); d >= slowDelay*3/4 {
				t.Errorf("ATR poll took %v, want it answered without the %v delay", d, slowDelay)
			}
			start = time.Now()
			if data, sw := f.exchange(getDataCert[:10]); sw != 0x9000 || !bytes.Equal(data, want) {
				t.Errorf("GET DATA: SW %04X, %d bytes; want the object", sw, len(data))
			}
			answers := (len(want) + 255) / 256
			if d := time.Since(start); d < time.Duration(answers)*slowDelay {
				t.Errorf("GET DATA took %v, want at least %d delays of %v", d, answers, slowDelay)
			}
		}},
		{FaultDisconnect, func(t *testing.T, card *Card, f *fakeVPCD, want []byte) {
			f.send(getDataCert)
			f.expectClosed()
			testutil.WaitFor(t, testTimeout, 5*time.Millisecond, "card to count as removed", func() bool { return !card.Inserted() })
			if err := card.Remove(); err != nil {
				t.Errorf("Remove after the drop: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			cfg := cardConfig(t, "rsa2048")
			cfg.Fault, cfg.Delay = tt.fault, slowDelay
			card, f := insert(t, cfg)
			if tt.fault != FaultNoPIV {
				if _, sw := f.exchange(selectShort); sw != 0x9000 {
					t.Fatalf("SELECT: SW = %04X", sw)
				}
			}
			tt.check(t, card, f, wantObject(t, cfg.Certificate, false))
		})
	}
}

func TestRemoveWhileExchangePending(t *testing.T) {
	cfg := cardConfig(t, "p256")
	cfg.Fault, cfg.Delay = FaultSlow, time.Hour
	card, f := insert(t, cfg)
	f.send(selectShort)
	time.Sleep(50 * time.Millisecond) // let the card start its delay
	removed := make(chan error, 1)
	go func() { removed <- card.Remove() }()
	select {
	case err := <-removed:
		if err != nil {
			t.Fatalf("Remove: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Remove did not return within 2s while an answer was pending")
	}
	if card.Inserted() {
		t.Error("Inserted after Remove")
	}
	f.expectClosed()
}

func TestMalformedFraming(t *testing.T) {
	tests := []struct {
		name       string
		raw        []byte
		closeWrite bool
	}{
		{"empty message", []byte{0x00, 0x00}, false},
		{"unknown control code", []byte{0x00, 0x01, 0x07}, false},
		{"truncated length", []byte{0x00}, true},
		{"truncated payload", []byte{0x00, 0x10, 0x00, 0xA4}, true},
		{"peer closes between messages", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, f := insert(t, cardConfig(t, "p256"))
			if _, err := f.conn.Write(tt.raw); err != nil {
				t.Fatalf("write: %v", err)
			}
			if tt.closeWrite {
				f.conn.(*net.TCPConn).CloseWrite()
			}
			f.expectClosed()
			testutil.WaitFor(t, testTimeout, 5*time.Millisecond, "card to count as removed", func() bool { return !card.Inserted() })
			// The card can be inserted again afterwards.
			if err := card.Insert(f.ln.Addr().String()); err != nil {
				t.Fatalf("insert again: %v", err)
			}
			f2 := accept(t, f.ln)
			if got := f2.atr(); !bytes.Equal(got, DefaultATR()) {
				t.Errorf("ATR after reinsertion = % X", got)
			}
		})
	}
}

func TestOddAPDUs(t *testing.T) {
	tests := []struct {
		name   string
		cmd    []byte
		wantSW uint16
	}{
		{"2 bytes", []byte{0x00, 0xA4}, 0x6700},
		{"3 bytes", []byte{0x00, 0xA4, 0x04}, 0x6700},
		{"Lc too long", []byte{0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0}, 0x6700},
		{"extended Lc zero", []byte{0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01}, 0x6700},
		{"extended SELECT", []byte{0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00}, 0x9000},
		{"largest frame", append([]byte{0x00, 0xA4, 0x04, 0x00}, make([]byte, 0xFFFF-4)...), 0x6700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f := insert(t, cardConfig(t, "p256"))
			if _, sw := splitSW(f.transmit(tt.cmd)); sw != tt.wantSW {
				t.Fatalf("SW = %04X, want %04X", sw, tt.wantSW)
			}
			if got := f.atr(); !bytes.Equal(got, DefaultATR()) {
				t.Errorf("ATR afterwards = % X", got)
			}
		})
	}
}

func TestInsertRemove(t *testing.T) {
	t.Run("insert twice", func(t *testing.T) {
		card, _ := insert(t, Config{})
		if err := card.Insert(ReaderAddr(0)); !errors.Is(err, ErrInserted) {
			t.Fatalf("second Insert error = %v, want ErrInserted", err)
		}
	})
	t.Run("unreachable reader", func(t *testing.T) {
		ln := listenVPCD(t)
		addr := ln.Addr().String()
		ln.Close()
		card := New(Config{})
		err := card.Insert(addr)
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Fatalf("Insert error = %v, want a *net.OpError", err)
		}
		if card.Inserted() {
			t.Error("Inserted after a failed Insert")
		}
	})
	t.Run("remove when not inserted", func(t *testing.T) {
		card := New(Config{})
		if err := card.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if err := card.WaitSeen(context.Background()); !errors.Is(err, ErrNotInserted) {
			t.Fatalf("WaitSeen error = %v, want ErrNotInserted", err)
		}
	})
	t.Run("remove then reinsert keeps retry counter", func(t *testing.T) {
		card, f := insert(t, cardConfig(t, "p256"))
		f.exchange(selectShort)
		f.exchange(verifyCmd("999999"))
		if err := card.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		f.expectClosed()
		if err := card.Insert(f.ln.Addr().String()); err != nil {
			t.Fatalf("insert again: %v", err)
		}
		f = accept(t, f.ln)
		if _, sw := f.exchange(pinStatus); sw != 0x6D00 {
			t.Errorf("VERIFY before SELECT after reinsertion: SW = %04X, want 6D00", sw)
		}
		f.exchange(selectShort)
		if _, sw := f.exchange(pinStatus); sw != 0x63C2 {
			t.Errorf("PIN status after reinsertion: SW = %04X, want 63C2", sw)
		}
	})
	t.Run("wait seen times out without vpcd traffic", func(t *testing.T) {
		card, _ := insert(t, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := card.WaitSeen(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitSeen error = %v, want DeadlineExceeded", err)
		}
	})
}

func TestCommands(t *testing.T) {
	card, f := insert(t, cardConfig(t, "p256"))
	f.atr()
	cmds := [][]byte{selectShort, pinStatus, getDataCert}
	for _, cmd := range cmds {
		f.transmit(cmd)
	}
	got := card.Commands()
	if len(got) != len(cmds) {
		t.Fatalf("Commands has %d entries, want %d", len(got), len(cmds))
	}
	for i := range cmds {
		if !bytes.Equal(got[i], cmds[i]) {
			t.Errorf("command %d = % X, want % X", i, got[i], cmds[i])
		}
	}
	got[0][0] = 0xEE
	if card.Commands()[0][0] != 0x00 {
		t.Error("Commands returned the card's own slices")
	}
}

func TestTransmit(t *testing.T) {
	cfg := cardConfig(t, "p256")
	card := New(cfg)
	for _, cmd := range [][]byte{selectShort, verifyCmd("123456")} {
		if resp, err := card.Transmit(cmd); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("Transmit % X = % X, %v", head(cmd), resp, err)
		}
	}
	var data []byte
	for cmd := getDataCert; cmd != nil; {
		resp, err := card.Transmit(cmd)
		if err != nil {
			t.Fatalf("Transmit % X: %v", head(cmd), err)
		}
		more, sw := splitSW(resp)
		data, cmd = append(data, more...), nil
		if sw>>8 == 0x61 {
			cmd = []byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}
		}
	}
	resp, _ := card.Transmit(pinStatus)
	if _, sw := splitSW(resp); sw != 0x9000 || !bytes.Equal(data, wantObject(t, cfg.Certificate, false)) {
		t.Errorf("GET DATA: SW %04X, %d bytes; want the object", sw, len(data))
	}

	cfg.Fault = FaultDisconnect
	card = New(cfg)
	card.Transmit(selectShort)
	if _, err := card.Transmit(getDataCert); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Transmit with FaultDisconnect error = %v, want ErrDisconnected", err)
	}
}
