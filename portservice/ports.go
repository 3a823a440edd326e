package portservice

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultPorts are the well-known ports pages try, in order; the service
// listens on the first free one. They are NHS Port Service's.
var DefaultPorts = []int{43487, 44213, 45031, 46478, 48853}

// ParsePorts reads a comma-separated list of ports, as --ports takes it.
func ParsePorts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%q is not a port", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// FormatPorts writes ports as ParsePorts reads them.
func FormatPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
