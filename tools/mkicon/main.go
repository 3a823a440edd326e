// Command mkicon draws cardbridge's icon, a smartcard with its contact chip,
// and writes it as a Windows .ico file holding PNG images of 16, 32, 48 and
// 256 pixels (the sizes Windows shows in Programs and Features, Explorer and
// the taskbar). installer/windows/build.sh runs it for the MSI's
// ARPPRODUCTICON, so that no binary artwork lives in the repository; the
// output is the same on every run.
//
//	go run ./tools/mkicon OUT.ico
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

// The card is NHS blue, the chip gold with darker contact lines.
var (
	cardColor    = color.NRGBA{0x00, 0x5e, 0xb8, 0xff}
	chipColor    = color.NRGBA{0xf2, 0xc2, 0x4b, 0xff}
	contactColor = color.NRGBA{0xa8, 0x7a, 0x12, 0xff}
	stripeColor  = color.NRGBA{0xff, 0xff, 0xff, 0xd0}
)

// sizes are the images in the icon, in pixels square.
var sizes = []int{16, 32, 48, 256}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkicon OUT.ico")
		os.Exit(2)
	}
	ico, err := icon(sizes)
	if err == nil {
		err = os.WriteFile(os.Args[1], ico, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkicon:", err)
		os.Exit(1)
	}
}

// icon encodes one drawing per size as an ICO file: the ICONDIR header,
// one 16-byte ICONDIRENTRY per image, then the PNG images.
func icon(sizes []int) ([]byte, error) {
	var pngs [][]byte
	for _, s := range sizes {
		var b bytes.Buffer
		if err := png.Encode(&b, draw(s)); err != nil {
			return nil, err
		}
		pngs = append(pngs, b.Bytes())
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	out.Write(le.AppendUint16(nil, 0))                  // reserved
	out.Write(le.AppendUint16(nil, 1))                  // type: icon
	out.Write(le.AppendUint16(nil, uint16(len(sizes)))) // image count
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := byte(s)
		if s >= 256 {
			dim = 0 // 0 stands for 256
		}
		out.Write([]byte{dim, dim, 0, 0})   // width, height, no palette, reserved
		out.Write(le.AppendUint16(nil, 1))  // colour planes
		out.Write(le.AppendUint16(nil, 32)) // bits per pixel
		out.Write(le.AppendUint32(nil, uint32(len(pngs[i]))))
		out.Write(le.AppendUint32(nil, uint32(offset)))
		offset += len(pngs[i])
	}
	for _, p := range pngs {
		out.Write(p)
	}
	return out.Bytes(), nil
}

// draw paints the icon at s×s pixels: a landscape card with rounded
// corners, a chip on its left and a light stripe along its bottom.
// Each pixel is sampled 4×4 times, for smooth edges at small sizes.
func draw(s int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, s, s))
	const n = 4
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			var r, g, b, a float64
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					// The pixel's sample in unit coordinates, 0..1.
					u := (float64(x) + (float64(sx)+0.5)/n) / float64(s)
					v := (float64(y) + (float64(sy)+0.5)/n) / float64(s)
					c := paint(u, v)
					ca := float64(c.A) / 255
					r += float64(c.R) * ca
					g += float64(c.G) * ca
					b += float64(c.B) * ca
					a += ca
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(a / (n * n) * 255)),
			})
		}
	}
	return img
}

// paint is the icon's colour at (u, v) in the unit square.
func paint(u, v float64) color.NRGBA {
	// The card: 0.04..0.96 wide, 0.18..0.82 high (ID-1 proportions), corners of radius 0.08.
	if !inRoundRect(u, v, 0.04, 0.18, 0.96, 0.82, 0.08) {
		return color.NRGBA{}
	}
	// The chip, with a contact line across and one down its middle.
	if inRoundRect(u, v, 0.14, 0.34, 0.40, 0.56, 0.04) {
		if math.Abs(v-0.45) < 0.015 || math.Abs(u-0.27) < 0.015 {
			return contactColor
		}
		return chipColor
	}
	if v > 0.66 && v < 0.72 && u > 0.14 && u < 0.86 {
		return stripeColor
	}
	return cardColor
}

// inRoundRect reports whether (u, v) lies in the rectangle x0..x1 × y0..y1
// with corners rounded to radius r.
func inRoundRect(u, v, x0, y0, x1, y1, r float64) bool {
	if u < x0 || u > x1 || v < y0 || v > y1 {
		return false
	}
	cx := math.Min(math.Max(u, x0+r), x1-r)
	cy := math.Min(math.Max(v, y0+r), y1-r)
	return (u-cx)*(u-cx)+(v-cy)*(v-cy) <= r*r
}
