package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"time"
)

// ReadPlist reads a property list file (managed preferences are usually
// binary ones) as Values through plutil, which turns it into JSON. A
// missing file holds no policies.
func ReadPlist(path string) (Values, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Values{}, nil
	} else if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/plutil", "-convert", "json", "-o", "-", path).Output()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s with plutil: %w", path, err)
	}
	p, err := ParseJSON(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
