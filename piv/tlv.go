package piv

import "fmt"

// TLV is one BER-TLV element; Value aliases the bytes it was parsed from.
type TLV struct {
	Tag   uint32
	Value []byte
}

// ParseTLVs parses a flat sequence of BER-TLV elements at one level, as PIV uses them.
//
// Tags are one to four bytes (a first byte with low bits 1F continues while bit 8 of the
// next byte is set); lengths are short, 81 xx, 82 xxxx or 83 xxxxxx. Indefinite (80) and
// longer length forms, truncated headers and a length past the end are errors. Values
// alias b, so parsing allocates only the returned slice.
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for off := 0; off < len(b); {
		tag, value, n, err := parseTLV(b[off:])
		if err != nil {
			return nil, fmt.Errorf("parse TLV at offset %d: %w", off, err)
		}
		out = append(out, TLV{Tag: tag, Value: value})
		off += n
	}
	return out, nil
}

// FindTag returns the value of the first element tagged tag in the flat sequence b, and
// whether there was one; the whole sequence must parse.
func FindTag(b []byte, tag uint32) ([]byte, bool, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return nil, false, err
	}
	for _, t := range tlvs {
		if t.Tag == tag {
			return t.Value, true, nil
		}
	}
	return nil, false, nil
}

// AppendTLV appends the BER-TLV encoding of tag and value to dst, with the tag's bytes
// big-endian without leading zeros and the shortest length form.
func AppendTLV(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFFFF:
		dst = append(dst, byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default: // valid BER, though ParseTLVs does not accept it
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// parseTLV parses the element at the start of b and returns its tag, value and encoded size.
func parseTLV(b []byte) (tag uint32, value []byte, n int, err error) {
	if len(b) == 0 {
		return 0, nil, 0, fmt.Errorf("missing tag")
	}
	tag = uint32(b[0])
	n = 1
	if b[0]&0x1F == 0x1F {
		for {
			if n >= len(b) {
				return 0, nil, 0, fmt.Errorf("tag %X truncated", tag)
			}
			if n == 4 {
				return 0, nil, 0, fmt.Errorf("tag %X longer than 4 bytes", tag)
			}
			tag = tag<<8 | uint32(b[n])
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
	}
	if n >= len(b) {
		return 0, nil, 0, fmt.Errorf("tag %X: missing length", tag)
	}
	first := b[n]
	n++
	length := int(first)
	if first >= 0x80 {
		k := int(first & 0x7F)
		switch {
		case k == 0:
			return 0, nil, 0, fmt.Errorf("tag %X: indefinite length not allowed", tag)
		case k > 3:
			return 0, nil, 0, fmt.Errorf("tag %X: length form %02X not supported", tag, first)
		case n+k > len(b):
			return 0, nil, 0, fmt.Errorf("tag %X: length truncated", tag)
		}
		length = 0
		for _, c := range b[n : n+k] {
			length = length<<8 | int(c)
		}
		n += k
	}
	if length > len(b)-n {
		return 0, nil, 0, fmt.Errorf("tag %X: length %d past end (%d left)", tag, length, len(b)-n)
	}
	return tag, b[n : n+length : n+length], n + length, nil
}
