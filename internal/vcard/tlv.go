package vcard

import "errors"

// errTLV reports BER-TLV data that does not parse.
var errTLV = errors.New("malformed tlv")

// tlv is one BER-TLV data object; tag holds the tag bytes big-endian (5FC105
// for the certificate object).
type tlv struct {
	tag   uint32
	value []byte
}

// appendTLV appends tag, a BER length and value to dst. Tags are written with
// as many bytes as they need (at most 3).
func appendTLV(dst []byte, tag uint32, value []byte) []byte {
	dst = appendTag(dst, tag)
	dst = appendLength(dst, len(value))
	return append(dst, value...)
}

// appendTag appends tag's big-endian bytes without leading zero bytes.
func appendTag(dst []byte, tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		return append(dst, byte(tag>>8), byte(tag))
	default:
		return append(dst, byte(tag))
	}
}

// appendLength appends n as a BER definite length (short form below 128,
// otherwise 81, 82 or 83 followed by 1 to 3 bytes).
func appendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, byte(n>>8), byte(n))
	default:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// parseTLVs splits data into consecutive BER-TLV objects. It fails on a
// truncated tag or length, a tag longer than 3 bytes, an indefinite or
// over-long length form, or a value that runs past the end of data.
func parseTLVs(data []byte) ([]tlv, error) {
	var out []tlv
	for len(data) > 0 {
		var t tlv
		var err error
		t, data, err = parseTLV(data)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTLV reads one BER-TLV object from the front of data and returns it
// with the remaining bytes.
func parseTLV(data []byte) (tlv, []byte, error) {
	if len(data) == 0 {
		return tlv{}, nil, errTLV
	}
	i := 0
	tag := uint32(data[i])
	i++
	if data[0]&0x1F == 0x1F {
		for {
			if i >= len(data) || i >= 3 {
				return tlv{}, nil, errTLV
			}
			b := data[i]
			tag = tag<<8 | uint32(b)
			i++
			if b&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(data) {
		return tlv{}, nil, errTLV
	}
	n := int(data[i])
	i++
	if n >= 0x80 {
		k := n & 0x7F
		if k == 0 || k > 3 || i+k > len(data) {
			return tlv{}, nil, errTLV
		}
		n = 0
		for _, b := range data[i : i+k] {
			n = n<<8 | int(b)
		}
		i += k
	}
	if n > len(data)-i {
		return tlv{}, nil, errTLV
	}
	return tlv{tag: tag, value: data[i : i+n]}, data[i+n:], nil
}
