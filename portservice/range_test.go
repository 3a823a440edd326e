package portservice

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    Range
		wantErr string // a part of the error; "" for none
	}{
		{in: "55000-55999", want: Range{55000, 55999}},
		{in: DefaultRange.String(), want: DefaultRange},
		{in: " 56000 - 56999 ", want: Range{56000, 56999}},
		{in: "1024-1024", want: Range{1024, 1024}},
		{in: "1024-65535", want: Range{1024, 65535}},
		{in: "", wantErr: "want LO-HI"},
		{in: "55000", wantErr: "want LO-HI"},
		{in: "55000-", wantErr: "want LO-HI"},
		{in: "-55999", wantErr: "want LO-HI"},
		{in: "a-b", wantErr: "want LO-HI"},
		{in: "55000-55999-56000", wantErr: "want LO-HI"},
		{in: "5-6", wantErr: "want 1024 <= LO <= HI <= 65535"},
		{in: "1023-2000", wantErr: "want 1024 <= LO <= HI <= 65535"},
		{in: "60000-65536", wantErr: "want 1024 <= LO <= HI <= 65535"},
		{in: "60000-50000", wantErr: "port range 60000-50000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseRange(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRangeValidate(t *testing.T) {
	tests := []struct {
		r  Range
		ok bool
	}{
		{DefaultRange, true},
		{Range{1024, 1024}, true},
		{Range{1024, 65535}, true},
		{Range{57000, 57009}, true},
		{Range{}, false},
		{Range{0, 10}, false},
		{Range{1, 65535}, false},
		{Range{1023, 1024}, false},
		{Range{100, 200}, false},
		{Range{60000, 50000}, false},
		{Range{2, 1}, false},
		{Range{65535, 65536}, false},
		{Range{-1, 2000}, false},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); (err == nil) != tt.ok {
			t.Errorf("%v.Validate() = %v; want ok %v", tt.r, err, tt.ok)
		}
	}
}

func TestRangeOrDefault(t *testing.T) {
	if r, err := (Range{}).OrDefault(); r != DefaultRange || err != nil {
		t.Errorf("zero range: %v, %v; want %v", r, err, DefaultRange)
	}
	if r, err := (Range{57000, 57009}).OrDefault(); r != (Range{57000, 57009}) || err != nil {
		t.Errorf("57000-57009: %v, %v", r, err)
	}
	if _, err := (Range{100, 200}).OrDefault(); err == nil {
		t.Error("100-200 passed")
	}
}

func TestRangeContains(t *testing.T) {
	r := Range{57000, 57009}
	tests := []struct {
		port int
		want bool
	}{
		{56999, false},
		{57000, true},
		{57005, true},
		{57009, true},
		{57010, false},
		{0, false},
	}
	for _, tt := range tests {
		if got := r.Contains(tt.port); got != tt.want {
			t.Errorf("%v.Contains(%d) = %v, want %v", r, tt.port, got, tt.want)
		}
	}
}
