package portservice

import (
	"slices"
	"testing"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "43487", want: []int{43487}},
		{in: "43487, 44213,45031", want: []int{43487, 44213, 45031}},
		{in: FormatPorts(DefaultPorts), want: DefaultPorts},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "65536", wantErr: true},
		{in: "80,x", wantErr: true},
		{in: "80,,81", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePorts(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
