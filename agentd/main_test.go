package agentd

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// With envExit set, this test binary stands in for another program (an
// upgraded executable's `version`): it prints envPrint and exits with
// envExit's code at once.
const (
	envPrint = "CARDBRIDGE_TEST_PRINT"
	envExit  = "CARDBRIDGE_TEST_EXIT"
)

func TestMain(m *testing.M) {
	if code, ok := os.LookupEnv(envExit); ok && code != "" {
		fmt.Print(os.Getenv(envPrint))
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	os.Exit(m.Run())
}
