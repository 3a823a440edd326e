// Command refserver is the reference for the agent's request-rate
// benchmark: the least a Go program can do to answer GET /api/card, a bare
// net/http handler returning fixed bytes.
//
//	refserver -listen 127.0.0.1:PORT -body card.json [-headers headers.txt]
//
// With -headers (one "Name: value" line each) every answer also carries
// those headers, so that it sends the same bytes as the server it stands
// beside; without it, only Content-Type.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	bodyFile := flag.String("body", "", "file whose bytes every answer carries")
	headerFile := flag.String("headers", "", `file of "Name: value" lines every answer carries`)
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fail(err)
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
	if err := http.ListenAndServe(*listen, nil); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
