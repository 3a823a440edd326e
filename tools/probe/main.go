// Command probe calls a cardbridge agent the way a page or another program
// would and prints what happened as JSON, one object per line. The
// integration tests run it as other OS users to prove the agent refuses
// them.
//
//	probe -base http://127.0.0.1:43485 -origin https://my.esr.nhs.uk /api/card /api/events ...
//
// Paths are fetched with GET (or -method, with -body); /api/events is
// dialled as a WebSocket and closed at once, or with -until TYPE kept open,
// each message printed as it comes, until one of that type arrives (or -wait
// passes): a line with body "connected" says the socket is open.
// Instead of fetching paths it can, as a hostile local user would:
//
//	-hold ADDR     listen on ADDR until killed (a port squatter)
//	-hog N         open N connections to -base, send one request on each
//	               and keep them open until standard input closes; prints
//	               {"opened","answered","open"} when they are all tried
//	-flood N       open N connections to -base one after another, each
//	               sending one request (with -origin); prints {"tried"}
//	-raw LINE      send the request line LINE (e.g. "OPTIONS * HTTP/1.1")
//	               and print the answer's status
//	-latency D     GET the first path again and again for D, a new
//	               connection each time (as a page's discovery does), and
//	               print {"samples","errors","statuses","p50_us","p99_us","max_us"}
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
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
	hog := flag.Int("hog", 0, "instead: hold this many connections to -base open until stdin closes")
	flood := flag.Int("flood", 0, "instead: send this many requests to -base, a connection each")
	raw := flag.String("raw", "", "instead: send this request line to -base and print the status")
	method := flag.String("method", "GET", "the HTTP method for the paths")
	body := flag.String("body", "", "a JSON request body to send with -method")
	until := flag.String("until", "", "keep /api/events open, printing its messages, until one of this type")
	wait := flag.Duration("wait", time.Minute, "how long -until waits, and bounds each request")
	latency := flag.Duration("latency", 0, "instead: GET the first path for this long, a connection each, and print latency percentiles")
	flag.Parse()
	addr := strings.TrimPrefix(*base, "http://")
	switch {
	case *latency > 0 && flag.NArg() > 0:
		measureLatency(*base+flag.Arg(0), *origin, *latency, *wait)
		return
	case *hog > 0:
		hogConns(addr, *origin, *hog)
		return
	case *flood > 0:
		floodConns(addr, *origin, *flood)
		return
	case *raw != "":
		fmt.Println(rawStatus(addr, *raw))
		return
	}
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
	client := &http.Client{Timeout: *wait}
	for _, path := range flag.Args() {
		r := result{Path: path}
		hdr := http.Header{}
		if *origin != "" {
			hdr.Set("Origin", *origin)
		}
		if path == "/api/events" {
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			conn, resp, err := d.Dial(strings.Replace(*base, "http", "ws", 1)+path, hdr)
			if conn != nil && *until != "" {
				followEvents(enc, conn, *until, *wait)
				continue
			}
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
			var rb io.Reader
			if *body != "" {
				rb = strings.NewReader(*body)
				hdr.Set("Content-Type", "application/json")
			}
			req, _ := http.NewRequest(*method, *base+path, rb)
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

// followEvents prints "connected", then every message of conn, until one
// whose type is until, or wait passes, and closes conn.
func followEvents(enc *json.Encoder, conn *websocket.Conn, until string, wait time.Duration) {
	defer conn.Close()
	const path = "/api/events"
	_ = enc.Encode(result{Path: path, Status: http.StatusSwitchingProtocols, Body: "connected"})
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			_ = enc.Encode(result{Path: path, Err: err.Error()})
			return
		}
		_ = enc.Encode(result{Path: path, Status: http.StatusSwitchingProtocols, Body: string(msg)})
		var ev struct{ Type string }
		if json.Unmarshal(msg, &ev) == nil && ev.Type == until {
			return
		}
	}
}

// request sends one GET /api/versioninfo on c and reads the answer's status
// line and headers; it reports whether an answer came.
func request(c net.Conn, addr, origin string) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /api/versioninfo HTTP/1.1\r\nHost: " + addr + "\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return true
}

// keptOpen reports whether the other end keeps c open: a read neither
// ends (EOF, reset) nor answers within 20 ms, three times. A read whose
// deadline passed before it began times out without looking, which a busy
// machine can make happen once, so one timeout is not enough.
func keptOpen(c net.Conn) bool {
	for range 3 {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == nil || !os.IsTimeout(err) {
			return false
		}
	}
	return true
}

// hogConns opens n connections to addr, sends a request on each and holds
// them until stdin closes.
func hogConns(addr, origin string, n int) {
	var conns []net.Conn
	answered := 0
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
		if request(c, addr, origin) {
			answered++
		}
	}
	// How many the server has kept open: a closed one reads EOF at once.
	// The server's last refusals are given time to close first, or they
	// would count as open.
	time.Sleep(250 * time.Millisecond)
	open := 0
	for _, c := range conns {
		if keptOpen(c) {
			open++
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"opened": len(conns), "answered": answered, "open": open})
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// floodConns sends n requests to addr, each on a connection of its own.
func floodConns(addr, origin string, n int) {
	tried := 0
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			continue
		}
		request(c, addr, origin)
		// Reset rather than linger in TIME_WAIT, so that thousands of
		// these do not use up the loopback's ephemeral ports.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		tried++
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"tried": tried})
}

// rawStatus sends one request line to addr and returns the answer's status
// code, or the error.
func rawStatus(addr, line string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "error " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		return "error " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "error " + err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// latencies is what -latency prints.
type latencies struct {
	Samples  int            `json:"samples"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	P50      int64          `json:"p50_us"`
	P99      int64          `json:"p99_us"`
	Max      int64          `json:"max_us"`
	LastErr  string         `json:"lastErr,omitempty"`
	// How late the prober's own 5 ms sleeps between requests ended: its
	// scheduling on a busy host, which every answer's time includes.
	WakeP50 int64 `json:"wake_p50_us"`
	WakeP99 int64 `json:"wake_p99_us"`
}

// measureLatency GETs url for d, one request at a time on a new connection
// each, 5 ms apart, and prints the answers' latency percentiles; a request
// that fails counts as an error, with its time. It also prints how late
// its own sleeps ended.
func measureLatency(url, origin string, d, timeout time.Duration) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	out := latencies{Statuses: map[string]int{}}
	var took, late []time.Duration
	const pause = 5 * time.Millisecond
	for end := time.Now().Add(d); time.Now().Before(end); {
		if len(took) > 0 {
			slept := time.Now()
			time.Sleep(pause)
			late = append(late, time.Since(slept)-pause)
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			out.Statuses[strconv.Itoa(resp.StatusCode)]++
		}
		took = append(took, time.Since(start))
		if err != nil {
			out.Errors++
			out.LastErr = err.Error()
		}
	}
	out.Samples = len(took)
	if n := len(took); n > 0 {
		out.P50, out.P99, out.Max = percentileUS(took, 0.5), percentileUS(took, 0.99), slices.Max(took).Microseconds()
	}
	if len(late) > 0 {
		out.WakeP50, out.WakeP99 = percentileUS(late, 0.5), percentileUS(late, 0.99)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// percentileUS is the q quantile of d (not empty), in microseconds.
func percentileUS(d []time.Duration, q float64) int64 {
	s := slices.Sorted(slices.Values(d))
	return s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()
}
