package piv

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestTLVRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		tag     uint32
		value   []byte
		wantHex string // header only
	}{
		{"empty value", 0x82, nil, "82 00"},
		{"short length", 0x5C, []byte{0x5F, 0xC1, 0x05}, "5C 03"},
		{"127 bytes", 0x70, make([]byte, 127), "70 7F"},
		{"128 bytes", 0x70, make([]byte, 128), "70 81 80"},
		{"255 bytes", 0x81, make([]byte, 255), "81 81 FF"},
		{"256 bytes", 0x81, make([]byte, 256), "81 82 01 00"},
		{"65535 bytes", 0x53, make([]byte, 65535), "53 82 FF FF"},
		{"65536 bytes", 0x53, make([]byte, 65536), "53 83 01 00 00"},
		{"two-byte tag", 0x7F61, []byte{1}, "7F 61 01"},
		{"three-byte tag", 0x5FC105, []byte{1, 2}, "5F C1 05 02"},
		{"four-byte tag", 0x1F818203, nil, "1F 81 82 03 00"},
		{"tag zero", 0x00, []byte{9}, "00 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := AppendTLV([]byte{0xEE}, tt.tag, tt.value)[1:]
			want := append(unhex(t, tt.wantHex), tt.value...)
			if !bytes.Equal(enc, want) {
				t.Fatalf("AppendTLV = % X...\nwant        % X...", enc[:min(len(enc), 8)], want[:min(len(want), 8)])
			}
			got, err := ParseTLVs(enc)
			if err != nil {
				t.Fatalf("ParseTLVs: %v", err)
			}
			if len(got) != 1 || got[0].Tag != tt.tag || !bytes.Equal(got[0].Value, tt.value) {
				t.Fatalf("ParseTLVs = %+v", got)
			}
		})
	}
}

func TestParseTLVs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []TLV
		wantErr string
	}{
		{"empty input", "", nil, ""},
		{"sequence", "70 02 AA BB 71 01 00 FE 00", []TLV{{0x70, []byte{0xAA, 0xBB}}, {0x71, []byte{0}}, {0xFE, []byte{}}}, ""},
		{"non-minimal lengths accepted", "53 81 01 AA 53 82 00 01 BB 53 83 00 00 01 CC", []TLV{{0x53, []byte{0xAA}}, {0x53, []byte{0xBB}}, {0x53, []byte{0xCC}}}, ""},
		{"nested stays flat", "7C 04 82 02 01 02", []TLV{{0x7C, unhex(t, "82020102")}}, ""},
		{"length past end", "53 05 01 02", nil, "parse TLV at offset 0: tag 53: length 5 past end (2 left)"},
		{"second element past end", "70 01 00 71 82 01 00 00", nil, "parse TLV at offset 3: tag 71: length 256 past end (1 left)"},
		{"indefinite length", "53 80 00 00", nil, "tag 53: indefinite length not allowed"},
		{"84 length form", "53 84 00 00 00 01 00", nil, "tag 53: length form 84 not supported"},
		{"FF length form", "53 FF", nil, "tag 53: length form FF not supported"},
		{"truncated long length", "53 82 01", nil, "tag 53: length truncated"},
		{"missing length", "53", nil, "tag 53: missing length"},
		{"truncated multi-byte tag", "5F C1", nil, "tag 5FC1 truncated"},
		{"five-byte tag", "1F 81 82 83 04 00", nil, "tag 1F818283 longer than 4 bytes"},
		{"missing length after multi-byte tag", "5F C1 05", nil, "tag 5FC105: missing length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTLVs(unhex(t, tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("got %+v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTLVs: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseTLVs = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseTLVsValueDoesNotAliasPastItself(t *testing.T) {
	in := unhex(t, "70 01 AA 71 01 BB")
	tlvs, err := ParseTLVs(in)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(tlvs[0].Value, 0xFF)
	if in[3] != 0x71 {
		t.Errorf("appending to a value overwrote the next element: % X", in)
	}
}

func TestFindTag(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		tag     uint32
		want    []byte
		found   bool
		wantErr bool
	}{
		{"found", "70 01 AA 71 01 01", 0x71, []byte{1}, true, false},
		{"first of two", "70 01 AA 70 01 BB", 0x70, []byte{0xAA}, true, false},
		{"absent", "70 01 AA", 0x71, nil, false, false},
		{"not searched in nested values", "53 03 70 01 AA", 0x70, nil, false, false},
		{"multi-byte tag", "5F C1 05 01 09", 0x5FC105, []byte{9}, true, false},
		{"malformed after the match", "70 01 AA 71 05", 0x70, nil, false, true},
		{"empty input", "", 0x53, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := FindTag(unhex(t, tt.in), tt.tag)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if found != tt.found || !bytes.Equal(got, tt.want) {
				t.Errorf("FindTag = % X, %v; want % X, %v", got, found, tt.want, tt.found)
			}
		})
	}
}
