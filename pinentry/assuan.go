package pinentry

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of the conversation with a pinentry program.
const (
	// maxLine bounds every line read from the program, its newline included.
	// Assuan itself allows 1000 bytes; the rest is slack for sloppy servers.
	maxLine = 4096
	// maxCommandLine is Assuan's limit for a line the client sends, without
	// its newline.
	maxCommandLine = 1000
	// maxData bounds the decoded data of all D lines answering one command.
	maxData = 4096
	// maxLinesPerCommand bounds the lines a program may send while answering
	// one command, so a program that floods comments or status lines fails
	// instead of keeping the agent busy.
	maxLinesPerCommand = 256
)

// kind says what a line from the program is.
type kind int

const (
	kindOK      kind = iota + 1 // "OK [text]": the command succeeded
	kindErr                     // "ERR code [description]": the command failed
	kindData                    // "D data": percent-escaped data
	kindStatus                  // "S keyword [args]": status information
	kindInquire                 // "INQUIRE keyword [args]": the server asks for data
	kindComment                 // "# text": a comment
)

// response is one parsed line from the program. text aliases the line it was
// parsed from: for kindData it is the still-escaped data, for kindErr the
// description, for the others whatever follows the keyword.
type response struct {
	kind kind
	code uint32
	text []byte
}

// errMalformed says that a line from the program is not an Assuan response.
// Its messages never quote the line, which may hold a PIN.
var errMalformed = errors.New("malformed response")

// parseResponse parses one line (without its newline) that an Assuan server
// sent to its client.
func parseResponse(line []byte) (response, error) {
	if len(line) == 0 {
		return response{}, errMalformed
	}
	if line[0] == '#' {
		return response{kind: kindComment, text: line[1:]}, nil
	}
	word, rest, spaced := cutWord(line)
	switch string(word) {
	case "OK":
		return response{kind: kindOK, text: rest}, nil
	case "D":
		if !spaced {
			return response{}, errMalformed
		}
		return response{kind: kindData, text: rest}, nil
	case "S":
		if len(rest) == 0 {
			return response{}, errMalformed
		}
		return response{kind: kindStatus, text: rest}, nil
	case "INQUIRE":
		if len(rest) == 0 {
			return response{}, errMalformed
		}
		return response{kind: kindInquire, text: rest}, nil
	case "ERR":
		num, desc, _ := cutWord(rest)
		if len(num) == 0 || len(num) > 10 {
			return response{}, errMalformed
		}
		code, err := strconv.ParseUint(string(num), 10, 32)
		if err != nil {
			return response{}, errMalformed
		}
		return response{kind: kindErr, code: uint32(code), text: desc}, nil
	}
	return response{}, errMalformed
}

// cutWord splits line at its first space into the word before it and the
// text after it; spaced reports whether there was a space.
func cutWord(line []byte) (word, rest []byte, spaced bool) {
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		return line[:i], line[i+1:], true
	}
	return line, nil, false
}

// errBadEscape says that escaped data holds a '%' not followed by two hex
// digits.
var errBadEscape = errors.New("bad percent escape")

// errDataTooLong says that decoded data would not fit its buffer.
var errDataTooLong = errors.New("data too long")

// unescapeAppend appends the percent-decoded src to dst without ever growing
// dst beyond its capacity, so that a PIN never leaves the buffer the caller
// wipes. It returns errDataTooLong when the data does not fit.
func unescapeAppend(dst, src []byte) ([]byte, error) {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '%' {
			if i+2 >= len(src) {
				return dst, errBadEscape
			}
			hi, ok1 := unhex(src[i+1])
			lo, ok2 := unhex(src[i+2])
			if !ok1 || !ok2 {
				return dst, errBadEscape
			}
			c = hi<<4 | lo
			i += 2
		}
		if len(dst) == cap(dst) {
			return dst, errDataTooLong
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// unhex is the value of one hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeArg percent-escapes s for use as the argument of an Assuan command:
// '%', CR, LF and every other control character become %XX, and so does a
// leading space, which Assuan servers would otherwise drop. Invalid UTF-8 is
// replaced by U+FFFD. The result is cut at a character boundary so that it is
// at most max bytes long.
func escapeArg(s string, max int) string {
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var enc []byte
		switch {
		case r == utf8.RuneError && size == 1:
			enc = []byte("\uFFFD")
		case r == '%' || r < 0x20 || r == 0x7f || (i == 0 && r == ' '):
			enc = []byte{'%', hexDigit[r>>4], hexDigit[r&0xf]}
		default:
			enc = []byte(s[i : i+size])
		}
		if len(b)+len(enc) > max {
			break
		}
		b = append(b, enc...)
		i += size
	}
	return string(b)
}

const hexDigit = "0123456789ABCDEF"

// errLineTooLong says that the program sent a line longer than maxLine.
var errLineTooLong = errors.New("line too long")

// lineReader splits what a program writes into lines in one fixed buffer that
// it wipes when asked, so that a D line holding a PIN leaves no copies behind.
type lineReader struct {
	r        io.Reader
	buf      [maxLine]byte
	end      int // buf[:end] holds bytes read
	consumed int // buf[:consumed] is the line returned last
	err      error
}

// next returns the next line without its LF (and without a CR before it). The
// line aliases the reader's buffer and stays valid until the next call; the
// caller may overwrite it.
func (lr *lineReader) next() ([]byte, error) {
	if lr.consumed > 0 {
		n := copy(lr.buf[:], lr.buf[lr.consumed:lr.end])
		clear(lr.buf[n:lr.end])
		lr.end, lr.consumed = n, 0
	}
	for {
		if i := bytes.IndexByte(lr.buf[:lr.end], '\n'); i >= 0 {
			lr.consumed = i + 1
			line := lr.buf[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, nil
		}
		if lr.err != nil {
			if lr.end > 0 && lr.err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, lr.err
		}
		if lr.end == len(lr.buf) {
			return nil, errLineTooLong
		}
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		if err != nil {
			lr.err = err
		}
	}
}

// wipe clears everything the reader holds.
func (lr *lineReader) wipe() {
	clear(lr.buf[:])
	lr.end, lr.consumed = 0, 0
}
