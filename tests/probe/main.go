// Command probe calls a cardbridge agent the way a page or another program
// would and prints what happened as JSON, one object per line. The
// integration tests run it as other OS users to prove the agent refuses
// them.
//
//	probe -base http://127.0.0.1:43485 -origin https://my.esr.nhs.uk /api/card /api/events ...
//
// Paths are fetched with GET; /api/events is dialled as a WebSocket.
// With -hold ADDR it instead listens on ADDR until killed, to squat a port.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// result is one call's outcome.
type result struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Err    string `json:"err,omitempty"`
}

func main() {
	base := flag.String("base", "http://127.0.0.1:43485", "the agent's address")
	origin := flag.String("origin", "", "Origin header to send")
	hold := flag.String("hold", "", "instead: listen on this address and hold it until killed (a port squatter)")
	flag.Parse()
	if *hold != "" {
		ln, err := net.Listen("tcp", *hold)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("holding", ln.Addr())
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			c.Close()
		}
	}
	enc := json.NewEncoder(os.Stdout)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range flag.Args() {
		r := result{Path: path}
		hdr := http.Header{}
		if *origin != "" {
			hdr.Set("Origin", *origin)
		}
		if path == "/api/events" {
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			conn, resp, err := d.Dial(strings.Replace(*base, "http", "ws", 1)+path, hdr)
			if conn != nil {
				conn.Close()
			}
			if err != nil {
				r.Err = err.Error()
			}
			if resp != nil {
				r.Status = resp.StatusCode
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				r.Body = string(b)
			}
		} else {
			req, _ := http.NewRequest("GET", *base+path, nil)
			req.Header = hdr
			resp, err := client.Do(req)
			if err != nil {
				r.Err = err.Error()
			} else {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				r.Status, r.Body = resp.StatusCode, string(b)
			}
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
