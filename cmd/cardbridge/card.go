package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pcsc"
)

// cmdCard lists readers and, for each card, its ATR and holder. It exits 0
// whenever PC/SC answered, with or without cards.
func cmdCard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("card", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON in the shape of GET /api/readers")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cardbridge card: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	readers, err := pcsc.Readers(ctx)
	if err != nil {
		msg := "cannot list card readers: " + err.Error() + "."
		if errors.Is(err, pcsc.ErrUnavailable) {
			msg = "the smart card service (PC/SC) is not running: " + pcsc.ServiceHint + "."
		}
		if *asJSON {
			writeJSON(stdout, api.ErrorBody{Error: api.Error{Code: cardinfo.CodeOf(err), Message: msg}})
		} else {
			fmt.Fprintln(stderr, "cardbridge: "+msg)
		}
		return 1
	}

	out := api.Readers{Readers: make([]api.Reader, 0, len(readers))}
	for _, r := range readers {
		entry := api.Reader{Name: r.Name, CardPresent: r.CardPresent}
		if r.CardPresent {
			c := readCard(ctx, r)
			entry.Card = &c
		}
		out.Readers = append(out.Readers, entry)
	}
	if *asJSON {
		writeJSON(stdout, out)
		return 0
	}
	printReaders(stdout, out)
	return 0
}

// readCard reads the identity of the card in r on a connection of its own.
func readCard(ctx context.Context, r pcsc.Reader) api.Card {
	id, err := cardinfo.ReadIdentity(ctx, r.Name)
	return cardinfo.NewCard(r.Name, r.ATR, id, err)
}

func printReaders(w io.Writer, out api.Readers) {
	if len(out.Readers) == 0 {
		fmt.Fprintln(w, "No card readers found. Plug in a reader, or check that its driver is installed.")
		return
	}
	for _, r := range out.Readers {
		if r.Card == nil {
			fmt.Fprintf(w, "%s: no card\n", r.Name)
			continue
		}
		c := r.Card
		fmt.Fprintf(w, "%s: card present\n", r.Name)
		fmt.Fprintf(w, "  ATR:      %s\n", c.ATR)
		if c.Error != nil {
			fmt.Fprintf(w, "  Error:    %s: %s\n", c.Error.Code, c.Error.Message)
			continue
		}
		fmt.Fprintf(w, "  UUID:     %s\n", c.UUID)
		fmt.Fprintf(w, "  Subject:  %s\n", c.Subject)
		fmt.Fprintf(w, "  Expires:  %s\n", c.NotAfter)
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
