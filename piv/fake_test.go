package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"
)

// errNoAnswer is what scriptCard returns once its canned answers run out.
var errNoAnswer = errors.New("fake card: no more answers")

// scriptCard answers each command with the next canned answer and records the commands.
type scriptCard struct {
	answers [][]byte
	sent    [][]byte
}

func (s *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, bytes.Clone(cmd))
	if len(s.answers) == 0 {
		return nil, errNoAnswer
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

// answersFromBytes splits fuzz input into card answers: each a 2-byte big-endian length
// and that many bytes (the last one cut short where the input ends).
func answersFromBytes(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// answersToBytes is the inverse of answersFromBytes, for seeds.
func answersToBytes(answers ...[]byte) []byte {
	var out []byte
	for _, a := range answers {
		out = append(out, byte(len(a)>>8), byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// sw appends a status word to data, giving a response APDU.
func sw(data []byte, sw uint16) []byte {
	return append(bytes.Clone(data), byte(sw>>8), byte(sw))
}

// parseCommand decodes a short command APDU the way a card would.
func parseCommand(b []byte) (Command, bool) {
	if len(b) < 4 {
		return Command{}, false
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3], Le: -1}
	switch rest := b[4:]; {
	case len(rest) == 0:
	case len(rest) == 1:
		c.Le = int(rest[0])
	default:
		lc := int(rest[0])
		if lc == 0 || len(rest) < 1+lc || len(rest) > 2+lc {
			return Command{}, false
		}
		c.Data = rest[1 : 1+lc]
		if len(rest) == 2+lc {
			c.Le = int(rest[1+lc])
		}
	}
	if c.Le == 0 {
		c.Le = 256
	}
	return c, true
}

// pivCard is a small virtual PIV card: SELECT, GET DATA of 5FC105, GET RESPONSE, VERIFY
// and GENERAL AUTHENTICATE with command chaining, signing with a real key.
type pivCard struct {
	noApplet   bool          // answer SELECT with 6A82
	certObject []byte        // the 5FC105 object; nil answers GET DATA with 6A82
	signObject []byte        // the 5FC10A object (slot 9C); nil answers 6A82
	chunk      int           // most response bytes per answer (0: 256)
	key        crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey for slot 9A
	pin        []byte        // the correct PIN, unpadded
	retries    int           // tries left

	selected bool
	verified bool
	pending  []byte // response data waiting for GET RESPONSE
	chain    []byte // chained GENERAL AUTHENTICATE data so far
	sent     []Command
	signed   [][]byte // inputs signed
}

func (p *pivCard) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	cmd, ok := parseCommand(raw)
	if !ok {
		return sw(nil, 0x6700), nil
	}
	cmd.Data = bytes.Clone(cmd.Data)
	p.sent = append(p.sent, cmd)
	if cmd.INS != 0xC0 {
		p.pending = nil
	}
	switch cmd.INS {
	case 0xA4:
		if p.noApplet || !bytes.Equal(cmd.Data, pivAID) {
			return sw(nil, 0x6A82), nil
		}
		p.selected = true
		p.verified = false
		apt := AppendTLV(nil, 0x61, AppendTLV(AppendTLV(nil, 0x4F, []byte{0, 0, 0x10, 0, 1, 0}), 0x79, AppendTLV(nil, 0x4F, pivAID)))
		return p.respond(apt), nil
	case 0xC0:
		if len(p.pending) == 0 {
			return sw(nil, 0x6985), nil
		}
		data := p.pending
		p.pending = nil
		return p.respond(data), nil
	case 0xCB:
		if !p.selected {
			return sw(nil, 0x6D00), nil
		}
		obj := p.certObject
		switch {
		case cmd.P1 != 0x3F || cmd.P2 != 0xFF:
			return sw(nil, 0x6A80), nil
		case bytes.Equal(cmd.Data, getAuthCert):
		case bytes.Equal(cmd.Data, getSignCert):
			obj = p.signObject
		default:
			return sw(nil, 0x6A80), nil
		}
		if obj == nil {
			return sw(nil, 0x6A82), nil
		}
		return p.respond(obj), nil
	case 0x20:
		return p.verify(cmd), nil
	case 0x87:
		return p.authenticate(cmd), nil
	}
	return sw(nil, 0x6D00), nil
}

// respond answers with data, leaving what does not fit in one answer for GET RESPONSE.
func (p *pivCard) respond(data []byte) []byte {
	chunk := p.chunk
	if chunk == 0 {
		chunk = 256
	}
	if len(data) <= chunk {
		return sw(data, 0x9000)
	}
	p.pending = data[chunk:]
	return sw(data[:chunk], 0x6100|uint16(min(len(p.pending), 256)&0xFF))
}

func (p *pivCard) verify(cmd Command) []byte {
	if cmd.P2 != KeyRefPIV || cmd.P1 != 0 {
		return sw(nil, 0x6A86)
	}
	if len(cmd.Data) == 0 {
		switch {
		case p.verified:
			return sw(nil, 0x9000)
		case p.retries == 0:
			return sw(nil, 0x6983)
		default:
			return sw(nil, 0x63C0|uint16(p.retries))
		}
	}
	if len(cmd.Data) != 8 {
		return sw(nil, 0x6A80)
	}
	if p.retries == 0 {
		return sw(nil, 0x6983)
	}
	want := append(bytes.Clone(p.pin), bytes.Repeat([]byte{0xFF}, 8-len(p.pin))...)
	if !bytes.Equal(cmd.Data, want) {
		p.retries--
		p.verified = false
		return sw(nil, 0x63C0|uint16(p.retries))
	}
	p.retries = 3
	p.verified = true
	return sw(nil, 0x9000)
}

func (p *pivCard) authenticate(cmd Command) []byte {
	p.chain = append(p.chain, cmd.Data...)
	if cmd.CLA&0x10 != 0 {
		return sw(nil, 0x9000)
	}
	data := p.chain
	p.chain = nil
	if !p.verified {
		return sw(nil, 0x6982)
	}
	if cmd.P2 != SlotAuthentication {
		return sw(nil, 0x6A86)
	}
	tmpl, ok, err := FindTag(data, 0x7C)
	if err != nil || !ok {
		return sw(nil, 0x6A80)
	}
	resp, ok1, err1 := FindTag(tmpl, 0x82)
	input, ok2, err2 := FindTag(tmpl, 0x81)
	if err1 != nil || err2 != nil || !ok1 || !ok2 || len(resp) != 0 {
		return sw(nil, 0x6A80)
	}
	p.signed = append(p.signed, bytes.Clone(input))
	var sig []byte
	switch key := p.key.(type) {
	case *rsa.PrivateKey:
		if cmd.P1 != AlgRSA2048 {
			return sw(nil, 0x6A86)
		}
		if len(input) != 256 {
			return sw(nil, 0x6A80)
		}
		m := new(big.Int).SetBytes(input)
		if m.Cmp(key.N) >= 0 {
			return sw(nil, 0x6A80)
		}
		sig = new(big.Int).Exp(m, key.D, key.N).FillBytes(make([]byte, 256))
	case *ecdsa.PrivateKey:
		if cmd.P1 != AlgECCP256 {
			return sw(nil, 0x6A86)
		}
		sig, err = ecdsa.SignASN1(rand.Reader, key, input)
		if err != nil {
			return sw(nil, 0x6F00)
		}
	default:
		return sw(nil, 0x6A86)
	}
	return p.respond(AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, sig)))
}

// Test keys. The RSA key is fixed because generating one is slow, most of all in fuzz
// workers, which run instrumented code.
var (
	testRSAKey = mustRSA()
	testECKey  = mustEC()
)

// testRSAKeyPEM is a throw-away 2048-bit key made for these tests only.
const testRSAKeyPEM = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCR8ztHw7ONTPax
XQr60BH/9o4Fa2K4baTWnytsk89gg87ZCJFnSlzdcGpFVQcxfz9lyWGYgr3N0E6T
mUPXXwBFTIfgLEZ3B1x9Z4LxLUfAhNxmCeW7jcn9ylEDbj1W8vG0gWeMZCIoOnVL
rPAi8IXWRmdvloYeknBuzTcMIQXFztM+0etkmMHVfil9FcOZXGGObnEYq+D0Ocq7
LArsdjDHPwAgRTZoSx3frWlPJnzbsMjm7yjP/YAXidrWvLP4J0dChw8KnF+zRbe6
fanTbYIIQgIIyjWem12YI41dvqji8TCahyc+0aAnt/Z5d5UgxpsmZxc43vj+AKMl
TQkTOm7vAgMBAAECggEAGmd/O4n/w1n/rXHQSTT4dK7V3cwiNYx8jGmKcR/Cnkrq
UqB2sdGlwFgUmct6vC0xuof21KEelowPkytgtyeURHVGhbts2h7mUDe4XEqdVwqS
VxGGUuqhdv0xr+WzSjY0nTvmEGOTPGTrEJBOd3u9MtlU4D7Cr+g9WAZfZZ3ZzgHJ
i7+4eRVbvwFmlG3FeSKOSFbXQGFHrbTpaWYfiLzDC5Yy90aVFSeqjc9K0g9ENmUU
NJlL9/614J2qlKCXZYxx9VkvIlU1GhoH6GXwly9jZHqjDPGfjqBqkqLZUZzgGo7g
QLlwNtqzsXHMAs9P0F6TaKNfzFoY0FyGjOXkgnk3TQKBgQDCmwas7bRSPmpOeerN
J2HBB+vyxJYSEXTWux0DGk3m/dH5AxzWeevu7+Lf2lVikHka1irxtI/BIH2Tpn8/
FxcI96cVGliiu1OnLIGCV1vwHosmuj4GffizM6X9XYvOR8rUHVFjsEpwzfllX58S
SQAcDr3UIVEXQwRw7mMgoba92wKBgQC//qJxJ59mkV0JxcPEn/JevQEM3vjXgw1Y
03MpqGogIRUNTOgGM9DLIV5fEIWy/xcbYSxcTZT7A8v8LFFG7enwlsmj6B4CJCE4
agRLY394HSqQpwEc7mR6SRTrjLkSsQXDHIpkqpwS4QP8CqCmsRMu/nfyycime/D7
M3BOdJuhfQKBgHF/1znefXAGRRw2ERLMKEBb7Wou69Pn6Hwgr4ASxGK3oNIZ1aTl
gQxfTrP+dBRDbM6RIITOKZWa7ILD9a0HO4EYZ5NwRUfL97MlyvcJGm8GcWQJ9Yj1
yapCskn+WD7cMljaLJD2zcPS7eUJCw6wEudKVb62G8R0as+uyZPLnXhHAoGAC/Ye
QrR4PtihlkFG8BIS9IoL7bRahnq4sycBTsAaVIQbHqgC8Jf70xvyGDQcUEmKM/96
1wlSVc0nwT81lRivcXjDeT212OZNV4lrWRMK1v3iL/7nl9jWU7QH5KDwytRSipRV
nu3uKVLxf5td5OS1UEE0UeD2akDgg5Xx0kF7jLUCgYAQrM9G/Icn/VarJELQyhGQ
JXqdzBRJmPMn/Wx9PnFX5R63ZikYHy6JtweKfIic1CF+EHsXQyurPxHr9KMSZOGW
azCqfiuiGJ2d6etaPb3KVe3KNJpFuVbkQ5TmUcIKIQhfYTGKCQE3U72CQe0GRUWf
dsCyTKBoR2Ba80y+IkFXmA==
-----END PRIVATE KEY-----
`

func mustRSA() *rsa.PrivateKey {
	block, _ := pem.Decode([]byte(testRSAKeyPEM))
	if block == nil {
		panic("test RSA key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return k.(*rsa.PrivateKey)
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// nhsSubject is an NHS card subject, encoded O, OU, CN as the cards carry it.
func nhsSubject(cn string) []byte {
	seq := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "nhs"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "People"}},
	}
	if cn != "" {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: cn}})
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		panic(err)
	}
	return b
}

var testNotAfter = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// makeCert makes a DER certificate for key's public half with the given raw subject,
// padded with a filler extension of extra bytes.
func makeCert(tb testing.TB, key crypto.Signer, rawSubject []byte, extra int) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		RawSubject:   rawSubject,
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     testNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if extra > 0 {
		filler, _ := asn1.Marshal(bytes.Repeat([]byte("x"), extra))
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: filler}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatalf("create certificate: %v", err)
	}
	return der
}

// certObject wraps a certificate as PIV data object 5FC105: 53 { 70 cert, 71 info, FE }.
func certObject(cert []byte, info byte) []byte {
	inner := AppendTLV(nil, 0x70, cert)
	inner = AppendTLV(inner, 0x71, []byte{info})
	inner = AppendTLV(inner, 0xFE, nil)
	return AppendTLV(nil, 0x53, inner)
}
