package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func FuzzParseTLVs(f *testing.F) {
	for _, s := range []string{
		"", "70 02 AA BB 71 01 00 FE 00", "53 81 01 AA", "53 82 00 01 BB", "53 83 00 00 01 CC",
		"5F C1 05 01 09", "1F 81 82 03 00", "7C 06 82 00 81 02 01 02",
		"53 05 01 02", "53 80 00 00", "53 84 00 00 00 01 00", "53 82 01", "5F C1", "1F 81 82 83 04 00", "00 00 FF 00",
	} {
		f.Add(unhex(f, s))
	}
	f.Add(AppendTLV(nil, 0x53, AppendTLV(AppendTLV(nil, 0x70, make([]byte, 300)), 0x71, []byte{1})))
	f.Fuzz(func(t *testing.T, b []byte) {
		tlvs, err := ParseTLVs(b)
		if err != nil {
			if tlvs != nil || !strings.HasPrefix(err.Error(), "parse TLV at offset ") || errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("ParseTLVs = %v, %v", tlvs, err)
			}
			return
		}
		if len(tlvs) > len(b)/2 {
			t.Fatalf("%d elements from %d bytes", len(tlvs), len(b))
		}
		// Each element re-encodes to its own bytes, or to fewer when the card used a
		// longer length form than needed; the value is the element's tail.
		var enc []byte
		off := 0
		for i, tv := range tlvs {
			_, _, n, err := parseTLV(b[off:])
			if err != nil {
				t.Fatalf("element %d does not parse alone: %v", i, err)
			}
			elem := b[off : off+n]
			canon := AppendTLV(nil, tv.Tag, tv.Value)
			switch {
			case len(canon) == n:
				if !bytes.Equal(canon, elem) {
					t.Fatalf("element %d re-encodes to % X, was % X", i, canon, elem)
				}
			case len(canon) < n:
				// Same tag bytes, a long length form (81/82/83) naming the same length.
				tagLen := len(AppendTLV(nil, tv.Tag, nil)) - 1
				lf := elem[tagLen]
				k := int(lf & 0x7F)
				if !bytes.Equal(elem[:tagLen], canon[:tagLen]) || lf < 0x81 || lf > 0x83 || tagLen+1+k+len(tv.Value) != n {
					t.Fatalf("element %d: % X re-encodes shorter to % X", i, elem, canon)
				}
				if new(big.Int).SetBytes(elem[tagLen+1:tagLen+1+k]).Int64() != int64(len(tv.Value)) {
					t.Fatalf("element %d: length field % X for %d bytes", i, elem[tagLen:tagLen+1+k], len(tv.Value))
				}
			default:
				t.Fatalf("element %d re-encodes longer: % X, was % X", i, canon, elem)
			}
			if len(tv.Value) > 0 && &tv.Value[0] != &b[off+n-len(tv.Value)] {
				t.Fatalf("element %d value does not alias the input", i)
			}
			enc = append(enc, canon...)
			off += n
		}
		if off != len(b) {
			t.Fatalf("elements cover %d of %d bytes", off, len(b))
		}
		again, err := ParseTLVs(enc)
		if err != nil || !reflect.DeepEqual(normalise(again), normalise(tlvs)) {
			t.Fatalf("re-encoding parses to %v, %v", again, err)
		}
		if len(enc) == len(b) && !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs at the same length")
		}
	})
}

// normalise makes empty values comparable with reflect.DeepEqual.
func normalise(tlvs []TLV) []TLV {
	out := make([]TLV, len(tlvs))
	for i, t := range tlvs {
		out[i] = TLV{Tag: t.Tag, Value: append([]byte{}, t.Value...)}
	}
	return out
}

func FuzzFindTag(f *testing.F) {
	f.Add(unhex(f, "70 01 AA 71 01 01"), uint32(0x71))
	f.Add(unhex(f, "70 01 AA 70 01 BB"), uint32(0x70))
	f.Add(unhex(f, "5F C1 05 01 09"), uint32(0x5FC105))
	f.Add(unhex(f, "70 01 AA 71 05"), uint32(0x70))
	f.Add(unhex(f, "53 03 70 01 AA"), uint32(0x70))
	f.Add([]byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, tag uint32) {
		v, found, err := FindTag(b, tag)
		tlvs, perr := ParseTLVs(b)
		if (err != nil) != (perr != nil) {
			t.Fatalf("FindTag error %v, ParseTLVs error %v", err, perr)
		}
		if err != nil {
			if found || v != nil {
				t.Fatalf("found with an error")
			}
			return
		}
		i := slices.IndexFunc(tlvs, func(t TLV) bool { return t.Tag == tag })
		if found != (i >= 0) {
			t.Fatalf("found = %v, ParseTLVs index %d", found, i)
		}
		if found && !bytes.Equal(v, tlvs[i].Value) {
			t.Fatalf("value % X, want % X", v, tlvs[i].Value)
		}
		if !found && v != nil {
			t.Fatalf("value without a match")
		}
	})
}

func FuzzParseCertObject(f *testing.F) {
	cert := makeCert(f, testECKey, nhsSubject("555123456789"), 0)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(cert)
	zw.Close()
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(make([]byte, maxCertificate+1))
	zw.Close()
	f.Add(certObject(cert, 0))
	f.Add(certObject(gz.Bytes(), 1))
	f.Add(certObject(bomb.Bytes(), 1))
	f.Add(certObject(cert, 1))
	f.Add(certObject(gz.Bytes()[:40], 1))
	f.Add(certObject(nil, 0))
	f.Add(unhex(f, "53 00"))
	f.Add(unhex(f, "53 04 70 05 01 02"))
	f.Add(unhex(f, "53 05 71 01 01 FE 00"))
	f.Add(AppendTLV(nil, 0x70, cert))
	f.Add(unhex(f, "53 80 70 01 01 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := parseCertObject(b, authCertName)
		if err != nil {
			if der != nil || !errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("parseCertObject = %d bytes, %v", len(der), err)
			}
			return
		}
		if len(der) == 0 || len(der) > maxCertificate {
			t.Fatalf("certificate of %d bytes", len(der))
		}
		obj, _, _ := FindTag(b, 0x53)
		raw, _, _ := FindTag(obj, 0x70)
		info, _, _ := FindTag(obj, 0x71)
		if len(info) == 0 || info[0]&1 == 0 {
			if !bytes.Equal(der, raw) {
				t.Fatalf("uncompressed certificate is not the 70 value")
			}
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gzip accepted by parseCertObject only: %v", err)
		}
		want, err := io.ReadAll(io.LimitReader(zr, maxCertificate+1))
		if err != nil || !bytes.Equal(der, want) {
			t.Fatalf("decompressed certificate differs: %v", err)
		}
	})
}

func FuzzExchange(f *testing.F) {
	f.Add(byte(0), byte(0xCB), byte(0x3F), byte(0xFF), uint16(5), int16(256), answersToBytes(sw([]byte{1, 2}, 0x9000)))
	f.Add(byte(0), byte(0xCB), byte(0x3F), byte(0xFF), uint16(5), int16(0), answersToBytes(sw([]byte{1}, 0x6100), sw([]byte{2}, 0x6102), sw([]byte{3}, 0x9000)))
	f.Add(byte(0), byte(0xCB), byte(0x3F), byte(0xFF), uint16(5), int16(-1), answersToBytes(sw(nil, 0x6C10), sw([]byte{2}, 0x9000)))
	f.Add(byte(0), byte(0x87), byte(0x07), byte(0x9A), uint16(266), int16(256), answersToBytes(sw(nil, 0x9000), sw(make([]byte, 256), 0x6108), sw(make([]byte, 8), 0x9000)))
	f.Add(byte(0), byte(0x87), byte(0x07), byte(0x9A), uint16(600), int16(256), answersToBytes(sw(nil, 0x9000), sw(nil, 0x6982)))
	f.Add(byte(0), byte(0x87), byte(0x07), byte(0x9A), uint16(600), int16(256), answersToBytes(sw(nil, 0x6110)))
	f.Add(byte(0), byte(0xA4), byte(0x04), byte(0x00), uint16(5), int16(256), answersToBytes([]byte{0x90}))
	f.Add(byte(0), byte(0xA4), byte(0x04), byte(0x00), uint16(5), int16(256), []byte{})
	f.Add(byte(0x80), byte(0x20), byte(0x00), byte(0x80), uint16(0), int16(-1), answersToBytes(sw(nil, 0x63C2)))
	f.Fuzz(func(t *testing.T, cla, ins, p1, p2 byte, dataLen uint16, le int16, raw []byte) {
		payload := make([]byte, int(dataLen)%1200)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		cmd := Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: payload, Le: int(le)}
		answers := answersFromBytes(raw)
		card := &scriptCard{answers: slices.Clone(answers)}
		data, gotSW, err := Exchange(context.Background(), card, cmd)
		sent := card.sent

		chained := 0
		if len(payload) > chainBlock {
			chained = (len(payload) - 1) / chainBlock
		}
		if len(sent) == 0 || len(sent) > chained+1+maxFollowUps {
			t.Fatalf("sent %d commands", len(sent))
		}
		for i := range min(chained, len(sent)) {
			want := Command{CLA: cla | 0x10, INS: ins, P1: p1, P2: p2, Data: payload[i*chainBlock : (i+1)*chainBlock], Le: -1}.Bytes()
			if !bytes.Equal(sent[i], want) {
				t.Fatalf("chained block %d = % X", i, sent[i])
			}
			if len(sent[i]) != 5+chainBlock {
				t.Fatalf("chained block %d is %d bytes", i, len(sent[i]))
			}
		}
		var body []byte
		if len(sent) > chained {
			prev := Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: payload[chained*chainBlock:], Le: int(le)}
			if !bytes.Equal(sent[chained], prev.Bytes()) {
				t.Fatalf("last block = % X, want % X", sent[chained], prev.Bytes())
			}
			for j := chained; j < len(sent) && j < len(answers); j++ {
				a := answers[j]
				if len(a) < 2 {
					if j != len(sent)-1 || err == nil || !strings.Contains(err.Error(), "too short for a status word") {
						t.Fatalf("short answer %d not reported: %v", j, err)
					}
					break
				}
				sw1, sw2 := a[len(a)-2], a[len(a)-1]
				if sw1 != 0x6C {
					body = append(body, a[:len(a)-2]...)
				}
				if j+1 == len(sent) {
					break
				}
				var next Command
				switch sw1 {
				case 0x61:
					next = Command{INS: 0xC0, Le: shortLe(uint16(sw2))}
				case 0x6C:
					next = prev
					next.Le = shortLe(uint16(sw2))
				default:
					t.Fatalf("command sent after final status word %02X%02X", sw1, sw2)
				}
				if !bytes.Equal(sent[j+1], next.Bytes()) {
					t.Fatalf("follow-up %d = % X, want % X", j+1, sent[j+1], next.Bytes())
				}
				prev = next
			}
		}
		if err != nil {
			if data != nil || !(errors.Is(err, ErrUnsupportedCard) || errors.Is(err, errNoAnswer)) {
				t.Fatalf("Exchange = %d bytes, %v", len(data), err)
			}
			return
		}
		last := answers[len(sent)-1]
		if wantSW := uint16(last[len(last)-2])<<8 | uint16(last[len(last)-1]); gotSW != wantSW {
			t.Fatalf("status word %s, last answer had %s", StatusWord(gotSW), StatusWord(wantSW))
		}
		if gotSW>>8 == 0x61 || gotSW>>8 == 0x6C || len(data) > maxResponse {
			t.Fatalf("Exchange = %d bytes, %s", len(data), StatusWord(gotSW))
		}
		if len(sent) <= chained {
			if data != nil || gotSW == swOK {
				t.Fatalf("chaining stopped early with %s and %d bytes", StatusWord(gotSW), len(data))
			}
			return
		}
		if !bytes.Equal(data, body) {
			t.Fatalf("data % X, want % X", data, body)
		}
	})
}

func FuzzReadIdentity(f *testing.F) {
	rsaCert := makeCert(f, testRSAKey, nhsSubject("555123456789"), 0)
	ecCert := makeCert(f, testECKey, nhsSubject("555000000042"), 0)
	noCN := makeCert(f, testECKey, nhsSubject(""), 0)
	ok := sw(nil, 0x9000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(ecCert)
	zw.Close()
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 100000))
	zw.Close()
	rsaObj := certObject(rsaCert, 0)
	f.Add(answersToBytes(ok, sw(rsaObj, 0x9000)))
	f.Add(answersToBytes(ok, sw(rsaObj[:256], 0x6100), sw(rsaObj[256:512], 0x6100), sw(rsaObj[512:], 0x9000)))
	f.Add(answersToBytes(ok, sw(certObject(ecCert, 0), 0x9000)))
	f.Add(answersToBytes(sw(nil, 0x6100), ok, sw(certObject(gz.Bytes(), 1), 0x9000)))
	f.Add(answersToBytes(ok, sw(certObject(bomb.Bytes(), 1), 0x9000)))
	f.Add(answersToBytes(ok, sw(certObject(noCN, 0), 0x9000)))
	f.Add(answersToBytes(ok, sw(certObject([]byte("garbage"), 0), 0x9000)))
	f.Add(answersToBytes(ok, sw(unhex(f, "53 04 70 05 01 02"), 0x9000)))
	f.Add(answersToBytes(ok, sw(unhex(f, "53 03 71 01 00"), 0x9000)))
	f.Add(answersToBytes(sw(nil, 0x6A82)))
	f.Add(answersToBytes(ok, sw(nil, 0x6A82)))
	f.Add(answersToBytes(ok, sw(nil, 0x6C05), []byte{0x90}))
	f.Add([]byte{})
	selectCmd := Command{CLA: 0, INS: 0xA4, P1: 4, P2: 0, Data: pivAID, Le: 256}.Bytes()
	getData := unhex(f, "00 CB 3F FF 05 5C 03 5F C1 05 00")
	f.Fuzz(func(t *testing.T, raw []byte) {
		card := &scriptCard{answers: answersFromBytes(raw)}
		id, err := ReadIdentity(context.Background(), card)
		if len(card.sent) == 0 || !bytes.Equal(card.sent[0], selectCmd) {
			t.Fatalf("first command % X", card.sent)
		}
		if n := len(card.sent); n > 2*(1+maxFollowUps) {
			t.Fatalf("sent %d commands", n)
		}
		if i := slices.IndexFunc(card.sent, func(b []byte) bool { return b[1] == 0xCB }); i >= 0 && !bytes.Equal(card.sent[i], getData) {
			t.Fatalf("GET DATA = % X", card.sent[i])
		}
		if err != nil {
			if id != nil || !(errors.Is(err, ErrUnsupportedCard) || errors.Is(err, errNoAnswer)) || !strings.HasPrefix(err.Error(), "read identity: ") {
				t.Fatalf("ReadIdentity = %v, %v", id, err)
			}
			return
		}
		c := id.Certificate
		if strings.TrimSpace(id.UUID) == "" || id.UUID != c.Subject.CommonName || !id.NotAfter.Equal(c.NotAfter) || !strings.Contains(id.Subject, "CN=") {
			t.Fatalf("identity %+v", id)
		}
		der, err := readCertificate(context.Background(), &scriptCard{answers: answersFromBytes(raw)})
		if err != nil || !bytes.Equal(der, c.Raw) {
			t.Fatalf("readCertificate disagrees: %v", err)
		}
	})
}

func FuzzParseAuthResponse(f *testing.F) {
	digest := sha256.Sum256([]byte("x"))
	card := verifiedCardF(f)
	ecSig, err := GeneralAuthenticate(context.Background(), card, AlgECCP256, SlotAuthentication, digest[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(AlgECCP256, AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, ecSig)))
	f.Add(AlgRSA2048, AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, make([]byte, 256))))
	f.Add(AlgRSA2048, AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, make([]byte, 255))))
	f.Add(byte(0x14), AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, []byte{1})))
	f.Add(AlgECCP256, unhex(f, "7C 02 82 00"))
	f.Add(AlgECCP256, unhex(f, "7C 10 82 02"))
	f.Add(AlgECCP256, unhex(f, "7C 02 82 05"))
	f.Add(AlgECCP256, AppendTLV(nil, 0x82, ecSig))
	f.Add(AlgECCP256, AppendTLV(nil, 0x7C, AppendTLV(nil, 0x82, append(bytes.Clone(ecSig), 0))))
	f.Fuzz(func(t *testing.T, alg byte, b []byte) {
		sig, err := parseAuthResponse(alg, b)
		if err != nil {
			if sig != nil || !errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("parseAuthResponse = % X, %v", sig, err)
			}
			return
		}
		tmpl, _, _ := FindTag(b, 0x7C)
		want, _, _ := FindTag(tmpl, 0x82)
		if len(sig) == 0 || !bytes.Equal(sig, want) {
			t.Fatalf("signature % X, want % X", sig, want)
		}
		if len(b) > 0 && &sig[0] == &want[0] {
			t.Fatalf("signature aliases the response")
		}
		switch alg {
		case AlgRSA2048:
			if len(sig) != 256 {
				t.Fatalf("RSA signature of %d bytes", len(sig))
			}
		case AlgECCP256:
			var rs struct{ R, S *big.Int }
			if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
				t.Fatalf("accepted ECDSA signature % X", sig)
			}
		}
	})
}

// verifiedCardF is verifiedCard for fuzz setup.
func verifiedCardF(f *testing.F) *pivCard {
	card := &pivCard{key: testECKey, pin: []byte("123456"), retries: 3}
	ctx := context.Background()
	if err := SelectPIV(ctx, card); err != nil {
		f.Fatal(err)
	}
	if err := VerifyPIN(ctx, card, []byte("123456")); err != nil {
		f.Fatal(err)
	}
	return card
}
