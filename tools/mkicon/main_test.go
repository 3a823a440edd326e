package main

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

// TestIcon: the file is an ICO whose directory names each size once, at
// offsets and lengths that hold a PNG of that size, the card opaque in its
// middle and the corners transparent; and drawing it twice gives the same
// bytes.
func TestIcon(t *testing.T) {
	ico, err := icon(sizes)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(ico[0:]) != 0 || le.Uint16(ico[2:]) != 1 || int(le.Uint16(ico[4:])) != len(sizes) {
		t.Fatalf("header % x", ico[:6])
	}
	for i, s := range sizes {
		e := ico[6+16*i : 22+16*i]
		w := int(e[0])
		if w == 0 {
			w = 256
		}
		size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		if w != s || int(e[1]) != int(e[0]) || le.Uint16(e[6:]) != 32 || int(off+size) > len(ico) {
			t.Fatalf("entry %d: % x (file of %d bytes)", i, e, len(ico))
		}
		img, err := png.Decode(bytes.NewReader(ico[off : off+size]))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != s || b.Dy() != s {
			t.Errorf("entry %d: image %v, want %d×%d", i, b, s, s)
		}
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%d px: the corner is not transparent", s)
		}
		if _, _, _, a := img.At(s*3/4, s/2).RGBA(); a != 0xffff {
			t.Errorf("%d px: the card is not opaque", s)
		}
	}
	again, _ := icon(sizes)
	if !bytes.Equal(ico, again) {
		t.Error("two runs gave different icons")
	}
}
