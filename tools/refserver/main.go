// Command refserver is the reference for the agent's request-rate
// benchmark: the least a Go program can do to answer GET /api/card, a bare
// net/http handler returning fixed bytes.
//
//	refserver -listen 127.0.0.1:PORT -body card.json [-headers headers.txt] [-ready FILE]
//
// With -headers (one "Name: value" line each) every answer also carries
// those headers, so that it sends the same bytes as the server it stands
// beside; without it, only Content-Type. With -ready it writes the time it
// started serving (Unix nanoseconds) to FILE: the logon-storm benchmark's
// reference for an agent's "serving".
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	bodyFile := flag.String("body", "", "file whose bytes every answer carries")
	headerFile := flag.String("headers", "", `file of "Name: value" lines every answer carries`)
	ready := flag.String("ready", "", "file to write the time serving began to (Unix nanoseconds)")
	flag.Parse()
	var body []byte
	if *bodyFile != "" {
		var err error
		if body, err = os.ReadFile(*bodyFile); err != nil {
			fail(err)
		}
	}
	header := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	if *headerFile != "" {
		raw, err := os.ReadFile(*headerFile)
		if err != nil {
			fail(err)
		}
		// The reader wants the blank line that ends a header block.
		mime, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw, "\r\n\r\n"...)))).ReadMIMEHeader()
		if err != nil {
			fail(fmt.Errorf("%s: %w", *headerFile, err))
		}
		header = http.Header(mime)
	}
	http.HandleFunc("/api/card", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v // net/http only reads the values
		}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o600); err != nil {
			fail(err)
		}
	}
	if err := http.Serve(ln, nil); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
