package localsock

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

var pipeSeq atomic.Uint64

// testPath returns a pipe name no other test uses.
func testPath(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf(`\\.\pipe\cardbridge-test-%d-%d-%d`, os.Getpid(), time.Now().UnixNano(), pipeSeq.Add(1))
}
