package vcard

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// DefaultBasePort is the TCP port of vpcd's first reader ("Virtual PCD 00 00")
// in vsmartcard's stock reader.conf; reader i listens on DefaultBasePort+i.
const DefaultBasePort = 35963

// BasePortEnv names the environment variable that, when set to a port number,
// replaces DefaultBasePort in ReaderAddr (for a private pcscd whose vpcd
// listens elsewhere).
const BasePortEnv = "CARDBRIDGE_VPCD_BASE_PORT"

// BasePort returns the vpcd port of reader 0: the value of BasePortEnv when it
// is a valid port, else DefaultBasePort.
func BasePort() int {
	if s := os.Getenv(BasePortEnv); s != "" {
		if p, err := strconv.Atoi(s); err == nil && p > 0 && p < 65535 {
			return p
		}
	}
	return DefaultBasePort
}

// ReaderAddr returns the loopback address where vpcd waits for the card of
// reader index: "127.0.0.1:35963" for 0 ("Virtual PCD 00 00"), ":35964" for 1.
func ReaderAddr(index int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(BasePort()+index))
}

// ReaderName returns the PC/SC name pcscd gives vpcd's reader index, such as
// "Virtual PCD 00 01" for 1.
func ReaderName(index int) string {
	return fmt.Sprintf("Virtual PCD 00 %02d", index)
}
