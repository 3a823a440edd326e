package piv

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Algorithm and key references for GENERAL AUTHENTICATE and VERIFY.
const (
	AlgRSA2048         byte = 0x07 // RSA-2048; the host pads the input with PKCS1v15Pad
	AlgECCP256         byte = 0x11 // ECDSA over P-256; the input is the digest
	SlotAuthentication byte = 0x9A // PIV authentication key, the one NHS signing uses
	SlotSignature      byte = 0x9C // PIV digital signature key, on cards that have one
	KeyRefPIV          byte = 0x80 // the PIV card application PIN
)

// Tags of the dynamic authentication template.
const (
	tagAuthTemplate = 0x7C
	tagChallenge    = 0x81
	tagResponse     = 0x82

	maxAuthInput = 1024 // longer than any input a PIV key signs
	rsa2048Bytes = 256
)

// GeneralAuthenticate asks the key in slot to sign input with algorithm alg and returns
// the raw signature: 256 bytes for AlgRSA2048, a DER ECDSA signature for AlgECCP256.
//
// The PIN must have been verified. For AlgRSA2048 input is the 256-byte padded block
// (see PKCS1v15Pad). Bad input is a plain error; card problems wrap ErrUnsupportedCard.
func GeneralAuthenticate(ctx context.Context, c Card, alg, slot byte, input []byte) ([]byte, error) {
	switch {
	case len(input) == 0:
		return nil, errors.New("general authenticate: empty input")
	case len(input) > maxAuthInput:
		return nil, fmt.Errorf("general authenticate: input of %d bytes is longer than %d", len(input), maxAuthInput)
	case alg == AlgRSA2048 && len(input) != rsa2048Bytes:
		return nil, fmt.Errorf("general authenticate: RSA-2048 input is %d bytes, want %d", len(input), rsa2048Bytes)
	}
	tmpl := AppendTLV(nil, tagResponse, nil)
	tmpl = AppendTLV(tmpl, tagChallenge, input)
	data := AppendTLV(nil, tagAuthTemplate, tmpl)
	resp, sw, err := Exchange(ctx, c, Command{CLA: 0x00, INS: 0x87, P1: alg, P2: slot, Data: data, Le: 256})
	if err != nil {
		return nil, fmt.Errorf("general authenticate: %w", err)
	}
	switch sw {
	case swOK:
	case swSecurityNotSatisfied:
		return nil, unsupported("general authenticate: PIN not verified (GENERAL AUTHENTICATE answered %s)", StatusWord(sw))
	case swWrongP1P2, swNotFound:
		return nil, unsupported("general authenticate: no key for algorithm %02X in slot %02X (GENERAL AUTHENTICATE answered %s)", alg, slot, StatusWord(sw))
	case swWrongData:
		return nil, unsupported("general authenticate: card rejected the input (GENERAL AUTHENTICATE answered %s)", StatusWord(sw))
	default:
		return nil, unsupported("general authenticate: unexpected status word %s to GENERAL AUTHENTICATE", StatusWord(sw))
	}
	sig, err := parseAuthResponse(alg, resp)
	if err != nil {
		return nil, fmt.Errorf("general authenticate: %w", err)
	}
	return sig, nil
}

// parseAuthResponse takes the signature out of 7C { 82 sig } and checks its shape for alg.
func parseAuthResponse(alg byte, b []byte) ([]byte, error) {
	tmpl, ok, err := FindTag(b, tagAuthTemplate)
	if err != nil {
		return nil, unsupported("malformed response: %v", err)
	}
	if !ok {
		return nil, unsupported("malformed response: no authentication template (tag 7C)")
	}
	sig, ok, err := FindTag(tmpl, tagResponse)
	if err != nil {
		return nil, unsupported("malformed response: in tag 7C: %v", err)
	}
	if !ok {
		return nil, unsupported("malformed response: no signature (tag 82)")
	}
	if len(sig) == 0 {
		return nil, unsupported("malformed response: empty signature")
	}
	switch alg {
	case AlgRSA2048:
		if len(sig) != rsa2048Bytes {
			return nil, unsupported("malformed response: RSA-2048 signature is %d bytes, want %d", len(sig), rsa2048Bytes)
		}
	case AlgECCP256:
		var rs struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(sig, &rs)
		if err != nil || len(rest) > 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
			return nil, unsupported("malformed response: signature is not a DER ECDSA signature")
		}
	}
	return bytes.Clone(sig), nil
}

// digestInfoPrefix is the DER DigestInfo header that precedes each hash's digest (RFC 8017 §9.2).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// PKCS1v15Pad builds the EMSA-PKCS1-v1_5 block (00 01 FF.. 00 DigestInfo) of keyBytes
// bytes that an RSA card signs with AlgRSA2048 (keyBytes 256).
//
// hash is SHA-1, SHA-256, SHA-384 or SHA-512 and digest its output; hash 0 takes digest
// as an already encoded DigestInfo, as crypto/rsa does.
func PKCS1v15Pad(hash crypto.Hash, digest []byte, keyBytes int) ([]byte, error) {
	var prefix []byte
	if hash != 0 {
		p, ok := digestInfoPrefix[hash]
		if !ok {
			return nil, fmt.Errorf("pkcs1 pad: unsupported hash %v", hash)
		}
		if len(digest) != hash.Size() {
			return nil, fmt.Errorf("pkcs1 pad: %v digest is %d bytes, want %d", hash, len(digest), hash.Size())
		}
		prefix = p
	}
	tLen := len(prefix) + len(digest)
	if keyBytes > 2048 {
		return nil, fmt.Errorf("pkcs1 pad: key of %d bytes too large", keyBytes)
	}
	if keyBytes < tLen+11 {
		return nil, fmt.Errorf("pkcs1 pad: key of %d bytes too small for %d bytes of DigestInfo", keyBytes, tLen)
	}
	em := make([]byte, keyBytes)
	em[1] = 0x01
	for i := 2; i < keyBytes-tLen-1; i++ {
		em[i] = 0xFF
	}
	copy(em[keyBytes-tLen:], prefix)
	copy(em[keyBytes-len(digest):], digest)
	return em, nil
}
