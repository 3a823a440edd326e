package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		wantErr bool
	}{
		{"", FaultNone, false},
		{"none", FaultNone, false},
		{"no-piv", FaultNoPIV, false},
		{"no-cert", FaultNoCertificate, false},
		{"malformed-tlv", FaultMalformedTLV, false},
		{"garbage", FaultGarbage, false},
		{"slow", FaultSlow, false},
		{" Disconnect ", FaultDisconnect, false},
		{"explode", FaultNone, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFault(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseFault(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, name := range FaultNames() {
		f, err := ParseFault(name)
		if err != nil || f.String() != name {
			t.Errorf("ParseFault(%q).String() = %q, %v", name, f.String(), err)
		}
	}
	if s := Fault(42).String(); s != "Fault(42)" {
		t.Errorf("Fault(42).String() = %q", s)
	}
}

func TestDefaultATR(t *testing.T) {
	atr := DefaultATR()
	if atr[0] != 0x3B {
		t.Fatalf("TS = %02X, want 3B (direct convention)", atr[0])
	}
	// Walk the interface bytes as ISO 7816-3 section 8.2 describes.
	i, y, k := 1, atr[1]>>4, int(atr[1]&0x0F)
	i++
	protocols := map[byte]bool{}
	for {
		td := false
		for bit := byte(1); bit <= 8; bit <<= 1 {
			if y&bit == 0 {
				continue
			}
			if bit == 8 {
				td = true
				protocols[atr[i]&0x0F] = true
				y = atr[i] >> 4
			}
			i++
		}
		if !td {
			break
		}
	}
	if got := len(atr) - i - 1; got != k {
		t.Fatalf("ATR has %d historical bytes, T0 says %d", got, k)
	}
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	if x != 0 {
		t.Errorf("TCK does not check: XOR of T0..TCK = %02X", x)
	}
	if !protocols[0] || !protocols[1] {
		t.Errorf("protocols offered = %v, want T=0 and T=1", protocols)
	}
	if hist := atr[i : i+k]; !bytes.HasSuffix(hist, []byte{0x82, 0x90, 0x00}) || hist[0] != 0x80 {
		t.Errorf("historical bytes % X, want category 80 ending in status 90 00", hist)
	}
	DefaultATR()[0] = 0
	if DefaultATR()[0] != 0x3B {
		t.Error("DefaultATR returns a shared slice")
	}
}

func TestNewIdentity(t *testing.T) {
	past := time.Now().AddDate(0, -1, 0)
	tests := []struct {
		alg      string
		notAfter time.Time
		wantErr  bool
	}{
		{"rsa2048", time.Time{}, false},
		{"p256", time.Now().Add(48 * time.Hour), false},
		{"p256", past, false},
		{"rsa1024", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.alg+"/"+tt.notAfter.Format(time.DateOnly), func(t *testing.T) {
			der, key, err := NewIdentity(tt.alg, NHSSubject("555123456789"), tt.notAfter)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "unknown algorithm") {
					t.Fatalf("error = %v, want unknown algorithm", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewIdentity: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("parse certificate: %v", err)
			}
			if got := cert.Subject.String(); got != "CN=555123456789,OU=People,O=nhs" {
				t.Errorf("subject = %q", got)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("certificate is not self-signed: %v", err)
			}
			if !tt.notAfter.IsZero() && !cert.NotAfter.Equal(tt.notAfter.Truncate(time.Second)) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, tt.notAfter)
			}
			if !cert.NotBefore.Before(cert.NotAfter) {
				t.Errorf("NotBefore %v is not before NotAfter %v", cert.NotBefore, cert.NotAfter)
			}
			switch k := key.(type) {
			case *rsa.PrivateKey:
				if k.N.BitLen() != 2048 || !k.PublicKey.Equal(cert.PublicKey) {
					t.Errorf("RSA key does not match a 2048-bit certificate")
				}
			case *ecdsa.PrivateKey:
				if !k.PublicKey.Equal(cert.PublicKey) {
					t.Errorf("ECDSA key does not match the certificate")
				}
			default:
				t.Errorf("key type %T", key)
			}
		})
	}
}

func TestReaderAddr(t *testing.T) {
	if got := ReaderAddr(0); got != "127.0.0.1:35963" {
		t.Errorf("ReaderAddr(0) = %q", got)
	}
	if got := ReaderAddr(1); got != "127.0.0.1:35964" {
		t.Errorf("ReaderAddr(1) = %q", got)
	}
	if got := ReaderName(1); got != "Virtual PCD 00 01" {
		t.Errorf("ReaderName(1) = %q", got)
	}
	t.Setenv(BasePortEnv, "40000")
	if got := ReaderAddr(1); got != "127.0.0.1:40001" {
		t.Errorf("ReaderAddr(1) with %s=40000 = %q", BasePortEnv, got)
	}
	t.Setenv(BasePortEnv, "junk")
	if got := ReaderAddr(0); got != "127.0.0.1:35963" {
		t.Errorf("ReaderAddr(0) with a bad %s = %q", BasePortEnv, got)
	}
}

func TestTLV(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 65535, 65536} {
		value := bytes.Repeat([]byte{0xAB}, n)
		for _, tag := range []uint32{0x53, 0x7F49, 0x5FC105} {
			enc := appendTLV(nil, tag, value)
			got, rest, err := parseTLV(enc)
			if err != nil || len(rest) != 0 || got.tag != tag || !bytes.Equal(got.value, value) {
				t.Errorf("round trip of tag %X with %d bytes: %X, %d left, %v", tag, n, got.tag, len(rest), err)
			}
		}
	}
	bad := []struct {
		name string
		data []byte
	}{
		{"tag only", []byte{0x53}},
		{"truncated tag", []byte{0x5F}},
		{"tag too long", []byte{0x5F, 0xC1, 0x85, 0x01, 0x00}},
		{"indefinite length", []byte{0x53, 0x80, 0x00, 0x00}},
		{"length of 4 bytes", []byte{0x53, 0x84, 0x00, 0x00, 0x00, 0x01, 0x00}},
		{"truncated length", []byte{0x53, 0x82, 0x01}},
		{"value past end", []byte{0x53, 0x03, 0x01, 0x02}},
	}
	if _, _, err := parseTLV(nil); err == nil {
		t.Error("parseTLV of nothing succeeded")
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseTLVs(tt.data); err == nil {
				t.Errorf("parseTLVs(% X) succeeded", tt.data)
			}
		})
	}
}

func TestParseAPDU(t *testing.T) {
	tests := []struct {
		name   string
		cmd    []byte
		ok     bool
		lc, le int
	}{
		{"case 1", []byte{0, 0xA4, 4, 0}, true, 0, 0},
		{"case 2", []byte{0, 0xC0, 0, 0, 0x10}, true, 0, 0x10},
		{"case 2 Le 00", []byte{0, 0xC0, 0, 0, 0}, true, 0, 256},
		{"case 3", []byte{0, 0xA4, 4, 0, 2, 1, 2}, true, 2, 0},
		{"case 4", []byte{0, 0xA4, 4, 0, 2, 1, 2, 0}, true, 2, 256},
		{"case 2 extended", []byte{0, 0xC0, 0, 0, 0, 0x01, 0x00}, true, 0, 256},
		{"case 2 extended Le 0000", []byte{0, 0xC0, 0, 0, 0, 0, 0}, true, 0, 65536},
		{"case 3 extended", []byte{0, 0xA4, 4, 0, 0, 0, 2, 1, 2}, true, 2, 0},
		{"case 4 extended", []byte{0, 0xA4, 4, 0, 0, 0, 2, 1, 2, 0x01, 0x02}, true, 2, 0x102},
		{"too short", []byte{0, 0xA4, 4}, false, 0, 0},
		{"Lc mismatch", []byte{0, 0xA4, 4, 0, 3, 1, 2}, false, 0, 0},
		{"zero then one byte", []byte{0, 0xA4, 4, 0, 0, 1}, false, 0, 0},
		{"extended Lc mismatch", []byte{0, 0xA4, 4, 0, 0, 0, 5, 1}, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := parseAPDU(tt.cmd)
			if ok != tt.ok || ok && (len(a.data) != tt.lc || a.le != tt.le) {
				t.Fatalf("parseAPDU = Lc %d Le %d ok %v; want Lc %d Le %d ok %v", len(a.data), a.le, ok, tt.lc, tt.le, tt.ok)
			}
		})
	}
}
