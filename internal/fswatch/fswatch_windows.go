package fswatch

import (
	"context"
	"errors"
)

// Watch is not offered on Windows (see the package doc): the caller looks
// on a timer.
func Watch(ctx context.Context, paths ...string) (<-chan struct{}, error) {
	return nil, errors.ErrUnsupported
}
