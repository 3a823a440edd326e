package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"math/big"
)

// Status words the card answers.
const (
	swOK                  = 0x9000
	swWrongLength         = 0x6700
	swChainingUnsupported = 0x6884
	swSecurityStatus      = 0x6982
	swPINBlocked          = 0x6983
	swConditionsOfUse     = 0x6985
	swWrongData           = 0x6A80
	swNotFound            = 0x6A82
	swWrongP1P2           = 0x6A86
	swReferenceNotFound   = 0x6A88
	swINSNotSupported     = 0x6D00
	swCLANotSupported     = 0x6E00
)

// Instructions the card knows.
const (
	insSelect                = 0xA4
	insGetData               = 0xCB
	insVerify                = 0x20
	insGeneralAuthenticate   = 0x87
	insGetResponse           = 0xC0
	claChaining              = 0x10
	algRSA2048               = 0x07
	algECCP256               = 0x11
	slotAuthentication       = 0x9A
	slotSignature            = 0x9C
	pivPINReference          = 0x80
	maxChainedCommand        = 4096
	tagCertificateObjectID   = 0x5FC105
	tagSigningCertObjectID   = 0x5FC10A
	tagDataObject            = 0x53
	tagTagList               = 0x5C
	tagDynamicAuthentication = 0x7C
	tagChallenge             = 0x81
	tagResponse              = 0x82
)

// pivAID is the full PIV application identifier (NIST RID A0 00 00 03 08,
// PIX 00 00 10 00 01 00); SELECT accepts any prefix of at least the RID.
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// session is the card state that power off, reset and removal clear.
type session struct {
	selected bool // the PIV application is selected
	verified bool // the PIN was verified since power-on
	// pending holds response data not yet fetched with GET RESPONSE.
	pending    []byte
	hasPending bool
	// chain holds the data of a command chain (CLA 10) so far.
	chain    []byte
	chaining bool
	chainHdr [3]byte // INS P1 P2 of the chain
}

// apdu is a parsed command APDU. le is the expected response length: 0 when
// absent, 256 or 65536 for a zero Le.
type apdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int
}

// parseAPDU decodes a short or extended command APDU (ISO 7816-3 cases 1 to
// 4). ok is false when the length fields do not match the APDU's size.
func parseAPDU(b []byte) (a apdu, ok bool) {
	if len(b) < 4 {
		return a, false
	}
	a.cla, a.ins, a.p1, a.p2 = b[0], b[1], b[2], b[3]
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return a, true
	case len(body) == 1: // case 2 short
		a.le = int(body[0])
		if a.le == 0 {
			a.le = 256
		}
		return a, true
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
			a.data = body[1:]
			return a, true
		case 2 + lc:
			a.data = body[1 : 1+lc]
			a.le = int(body[1+lc])
			if a.le == 0 {
				a.le = 256
			}
			return a, true
		}
		return a, false
	case len(body) == 3: // case 2 extended
		a.le = int(body[1])<<8 | int(body[2])
		if a.le == 0 {
			a.le = 65536
		}
		return a, true
	case len(body) > 3: // case 3 or 4 extended
		lc := int(body[1])<<8 | int(body[2])
		if lc == 0 {
			return a, false
		}
		switch len(body) {
		case 3 + lc:
			a.data = body[3:]
			return a, true
		case 5 + lc:
			a.data = body[3 : 3+lc]
			a.le = int(body[3+lc])<<8 | int(body[4+lc])
			if a.le == 0 {
				a.le = 65536
			}
			return a, true
		}
	}
	return a, false
}

// handle answers one command APDU with a response APDU of at least 2 bytes.
// drop is true when FaultDisconnect says to drop the connection instead. The
// caller holds c.mu.
func (c *Card) handle(cmd []byte) (resp []byte, drop bool) {
	c.record(cmd)
	a, ok := parseAPDU(cmd)
	var data []byte
	var sw uint16
	if !ok {
		c.s.pending, c.s.hasPending = nil, false
		c.s.chain, c.s.chaining = nil, false
		sw = swWrongLength
	} else {
		data, sw, drop = c.dispatch(a)
		if drop {
			c.logf("vcard: %02X %02X %02X %02X Lc=%d -> (dropped)", a.cla, a.ins, a.p1, a.p2, len(a.data))
			return nil, true
		}
	}
	resp = c.respond(data, sw, a.le)
	if ok {
		c.logf("vcard: %02X %02X %02X %02X Lc=%d Le=%d -> %d bytes %04X", a.cla, a.ins, a.p1, a.p2, len(a.data), a.le, len(resp)-2, uint16(resp[len(resp)-2])<<8|uint16(resp[len(resp)-1]))
	} else {
		c.logf("vcard: malformed %d-byte command -> %04X", len(cmd), sw)
	}
	return resp, false
}

// record keeps a copy of cmd for Commands.
func (c *Card) record(cmd []byte) {
	if len(c.commands) >= maxCommands {
		keep := maxCommands * 3 / 4
		c.commands = append(c.commands[:0], c.commands[len(c.commands)-keep:]...)
	}
	c.commands = append(c.commands, bytes.Clone(cmd))
}

// respond builds the response APDU for data and sw. Data longer than the
// chunk size (or a smaller Le) is split: the rest is kept for GET RESPONSE and
// the status is 61xx, xx being the bytes left (00 for 256 or more). Error
// statuses carry no data.
func (c *Card) respond(data []byte, sw uint16, le int) []byte {
	if sw != swOK {
		return []byte{byte(sw >> 8), byte(sw)}
	}
	n := c.cfg.ChunkSize
	if le > 0 && le < n {
		n = le
	}
	if len(data) <= n {
		return append(bytes.Clone(data), 0x90, 0x00)
	}
	rest := data[n:]
	c.s.pending, c.s.hasPending = rest, true
	out := append(bytes.Clone(data[:n]), 0x61, byte(min(len(rest), 256)))
	return out
}

// dispatch carries out a well-formed command and returns its response data
// and status word, or drop for FaultDisconnect.
func (c *Card) dispatch(a apdu) (data []byte, sw uint16, drop bool) {
	if a.cla&^claChaining != 0 {
		return nil, swCLANotSupported, false
	}
	if a.ins != insGetResponse {
		c.s.pending, c.s.hasPending = nil, false
	}
	if c.s.chaining && (a.ins != c.s.chainHdr[0] || a.p1 != c.s.chainHdr[1] || a.p2 != c.s.chainHdr[2]) {
		c.s.chain, c.s.chaining = nil, false
	}
	chained := a.cla&claChaining != 0
	switch a.ins {
	case insSelect:
		if chained {
			return nil, swChainingUnsupported, false
		}
		return c.selectApp(a)
	case insGetResponse:
		if chained {
			return nil, swChainingUnsupported, false
		}
		return c.getResponse(a)
	case insGetData, insVerify, insGeneralAuthenticate:
		if !c.s.selected {
			return nil, swINSNotSupported, false
		}
		if chained && a.ins != insGeneralAuthenticate {
			return nil, swChainingUnsupported, false
		}
		switch a.ins {
		case insGetData:
			return c.getData(a)
		case insVerify:
			data, sw = c.verify(a)
		default:
			data, sw = c.generalAuthenticate(a)
		}
		return data, sw, false
	}
	return nil, swINSNotSupported, false
}

// selectApp handles SELECT by AID; a failed SELECT leaves the current
// selection as it was.
func (c *Card) selectApp(a apdu) ([]byte, uint16, bool) {
	if a.p1 != 0x04 || (a.p2 != 0x00 && a.p2 != 0x0C) {
		return nil, swWrongP1P2, false
	}
	if len(a.data) < 5 || len(a.data) > len(pivAID) || !bytes.HasPrefix(pivAID, a.data) || c.cfg.Fault == FaultNoPIV {
		return nil, swNotFound, false
	}
	c.s = session{selected: true, verified: c.s.verified}
	if a.p2 == 0x0C {
		return nil, swOK, false
	}
	return applicationPropertyTemplate(), swOK, false
}

// applicationPropertyTemplate is SELECT's answer (SP 800-73-4 part 2, 3.1.1):
// 61 { 4F PIX, 79 { 4F RID }, 50 label }.
func applicationPropertyTemplate() []byte {
	var inner []byte
	inner = appendTLV(inner, 0x4F, pivAID[5:])
	inner = appendTLV(inner, 0x79, appendTLV(nil, 0x4F, pivAID[:5]))
	inner = appendTLV(inner, 0x50, []byte("cardbridge virtual PIV"))
	return appendTLV(nil, 0x61, inner)
}

// getResponse hands out the next part of a chained response.
func (c *Card) getResponse(a apdu) ([]byte, uint16, bool) {
	if !c.s.hasPending {
		return nil, swConditionsOfUse, false
	}
	if a.p1 != 0 || a.p2 != 0 {
		return nil, swWrongP1P2, false
	}
	if len(a.data) != 0 {
		return nil, swWrongLength, false
	}
	data := c.s.pending
	c.s.pending, c.s.hasPending = nil, false
	return data, swOK, false
}

// getData handles GET DATA 00 CB 3F FF with data 5C <object ID>. Only the PIV
// authentication certificate object exists, and the digital signature
// certificate object on a card configured with one; faults apply to the
// first only.
func (c *Card) getData(a apdu) ([]byte, uint16, bool) {
	if a.p1 != 0x3F || a.p2 != 0xFF {
		return nil, swWrongP1P2, false
	}
	tlvs, err := parseTLVs(a.data)
	if err != nil || len(tlvs) != 1 || tlvs[0].tag != tagTagList || len(tlvs[0].value) == 0 || len(tlvs[0].value) > 3 {
		return nil, swWrongData, false
	}
	var id uint32
	for _, b := range tlvs[0].value {
		id = id<<8 | uint32(b)
	}
	if id == tagSigningCertObjectID && c.signObject != nil {
		return c.signObject, swOK, false
	}
	if id != tagCertificateObjectID {
		return nil, swNotFound, false
	}
	switch c.cfg.Fault {
	case FaultDisconnect:
		return nil, 0, true
	case FaultNoCertificate:
		return nil, swNotFound, false
	case FaultGarbage:
		return garbage(), swOK, false
	}
	if c.object == nil {
		return nil, swNotFound, false
	}
	if c.cfg.Fault == FaultMalformedTLV {
		inner := c.object[1+lengthSize(c.object[1]):]
		bad := []byte{tagDataObject}
		bad = appendLength(bad, len(inner)+64)
		return append(bad, inner...), swOK, false
	}
	return c.object, swOK, false
}

// lengthSize returns how many bytes a BER length starting with b takes.
func lengthSize(b byte) int {
	if b < 0x80 {
		return 1
	}
	return 1 + int(b&0x7F)
}

// garbage returns 16 to 271 random bytes that do not start with tag 53.
func garbage() []byte {
	var n [1]byte
	rand.Read(n[:])
	b := make([]byte, 16+int(n[0]))
	rand.Read(b)
	if b[0] == tagDataObject {
		b[0] = ^b[0]
	}
	return b
}

// verify handles VERIFY of the PIV application PIN: with no data it reports
// the PIN status, with 8 bytes it checks the PIN, and P1 FF resets the
// verified state unless Config.PINResetSW says the card refuses that.
func (c *Card) verify(a apdu) ([]byte, uint16) {
	if a.p2 != pivPINReference {
		return nil, swReferenceNotFound
	}
	switch a.p1 {
	case 0xFF:
		if c.cfg.PINResetSW != 0 {
			return nil, c.cfg.PINResetSW
		}
		if len(a.data) != 0 {
			return nil, swWrongLength
		}
		c.s.verified = false
		return nil, swOK
	case 0x00:
	default:
		return nil, swWrongP1P2
	}
	if c.retries <= 0 {
		return nil, swPINBlocked
	}
	if len(a.data) == 0 {
		if c.s.verified {
			return nil, swOK
		}
		return nil, 0x63C0 | uint16(c.retries)
	}
	if len(a.data) != 8 {
		return nil, swWrongData
	}
	if subtle.ConstantTimeCompare(a.data, c.pin[:]) == 1 {
		c.retries = c.cfg.Retries
		c.s.verified = true
		return nil, swOK
	}
	c.s.verified = false
	c.retries--
	if c.retries <= 0 {
		c.retries = 0
		return nil, swPINBlocked
	}
	return nil, 0x63C0 | uint16(c.retries)
}

// generalAuthenticate handles GENERAL AUTHENTICATE with the slot 9A key, or
// the slot 9C key, assembling command chains first. A signature with the
// slot 9C key leaves the PIN not verified, as SP 800-73-4 asks of it.
func (c *Card) generalAuthenticate(a apdu) ([]byte, uint16) {
	input := a.data
	if a.cla&claChaining != 0 {
		if len(c.s.chain)+len(a.data) > maxChainedCommand {
			c.s.chain, c.s.chaining = nil, false
			return nil, swWrongLength
		}
		c.s.chain = append(c.s.chain, a.data...)
		c.s.chaining = true
		c.s.chainHdr = [3]byte{a.ins, a.p1, a.p2}
		return nil, swOK
	}
	if c.s.chaining {
		input = append(c.s.chain, a.data...)
		c.s.chain, c.s.chaining = nil, false
	}
	var key cardKey
	switch a.p2 {
	case slotAuthentication:
		key = c.authKey
	case slotSignature:
		key = c.signKey
	}
	if key.alg == 0 {
		return nil, swReferenceNotFound
	}
	if a.p1 != key.alg {
		return nil, swWrongData
	}
	if !c.s.verified {
		return nil, swSecurityStatus
	}
	challenge, ok := parseDynamicAuthentication(input)
	if !ok {
		return nil, swWrongData
	}
	var sig []byte
	switch key.alg {
	case algRSA2048:
		sig, ok = rawRSA(key.rsa, challenge)
	case algECCP256:
		sig, ok = signP256(key.ec, challenge)
	}
	if !ok {
		return nil, swWrongData
	}
	if a.p2 == slotSignature {
		c.s.verified = false
	}
	return appendTLV(nil, tagDynamicAuthentication, appendTLV(nil, tagResponse, sig)), swOK
}

// parseDynamicAuthentication checks that data is exactly 7C { 82 00, 81 x }
// (in either order) and returns x.
func parseDynamicAuthentication(data []byte) ([]byte, bool) {
	outer, err := parseTLVs(data)
	if err != nil || len(outer) != 1 || outer[0].tag != tagDynamicAuthentication {
		return nil, false
	}
	inner, err := parseTLVs(outer[0].value)
	if err != nil || len(inner) != 2 {
		return nil, false
	}
	var challenge []byte
	var haveChallenge, haveResponse bool
	for _, t := range inner {
		switch {
		case t.tag == tagResponse && len(t.value) == 0 && !haveResponse:
			haveResponse = true
		case t.tag == tagChallenge && !haveChallenge:
			challenge, haveChallenge = t.value, true
		default:
			return nil, false
		}
	}
	return challenge, haveChallenge && haveResponse
}

// rawRSA applies the RSA private key to a block the host has already padded,
// returning a result of the modulus size. The block must be exactly the
// modulus size and less than the modulus.
func rawRSA(k *rsa.PrivateKey, block []byte) ([]byte, bool) {
	size := (k.N.BitLen() + 7) / 8
	if len(block) != size {
		return nil, false
	}
	m := new(big.Int).SetBytes(block)
	if m.Cmp(k.N) >= 0 {
		return nil, false
	}
	var s *big.Int
	if len(k.Primes) == 2 && k.Precomputed.Dp != nil && k.Precomputed.Dq != nil && k.Precomputed.Qinv != nil {
		p, q := k.Primes[0], k.Primes[1]
		m1 := new(big.Int).Exp(m, k.Precomputed.Dp, p)
		m2 := new(big.Int).Exp(m, k.Precomputed.Dq, q)
		h := m1.Sub(m1, m2)
		h.Mul(h, k.Precomputed.Qinv)
		h.Mod(h, p)
		s = h.Mul(h, q)
		s.Add(s, m2)
	} else {
		s = new(big.Int).Exp(m, k.D, k.N)
	}
	return s.FillBytes(make([]byte, size)), true
}

// signP256 signs a 32-byte digest with an ECDSA P-256 key, returning an ASN.1
// DER signature.
func signP256(k crypto.Signer, digest []byte) ([]byte, bool) {
	if len(digest) != 32 {
		return nil, false
	}
	var sig []byte
	var err error
	if ek, ok := k.(*ecdsa.PrivateKey); ok {
		sig, err = ecdsa.SignASN1(rand.Reader, ek, digest)
	} else {
		sig, err = k.Sign(rand.Reader, digest, crypto.SHA256)
	}
	return sig, err == nil
}
