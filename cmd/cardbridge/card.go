package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/pcsc"
)

// card lists readers and, for each card, its ATR and holder. It succeeds
// whenever PC/SC answered, with or without cards.
func (c commands) card(ctx context.Context, args []string) error {
	fs := cli.NewFlags("cardbridge card", "Shows the card readers, the card in each and its holder, read through the smart card service.", false, c.stdout, c.stderr)
	asJSON := fs.Bool("json", false, "print JSON in the shape of GET /api/readers")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	readers, err := pcsc.Readers(ctx)
	if err != nil {
		msg := "cannot list card readers: " + err.Error() + "."
		if errors.Is(err, pcsc.ErrUnavailable) {
			msg = "the smart card service (PC/SC) is not running: " + pcsc.ServiceHint + "."
		}
		// The same words as JSON for scripts, or as one sentence for people.
		if *asJSON {
			_ = writeJSON(c.stdout, api.ErrorBody{Error: api.Error{Code: cardinfo.CodeOf(err), Message: msg}})
		} else {
			fmt.Fprintln(c.stderr, "cardbridge: "+msg)
		}
		return cli.Exit(1)
	}

	out := api.Readers{Readers: make([]api.Reader, 0, len(readers))}
	for _, r := range readers {
		entry := api.Reader{Name: r.Name, CardPresent: r.CardPresent}
		if r.CardPresent {
			c := cardinfo.Read(ctx, r)
			entry.Card = &c
		}
		out.Readers = append(out.Readers, entry)
	}
	if *asJSON {
		_ = writeJSON(c.stdout, out)
		return nil
	}
	printReaders(c.stdout, out)
	return nil
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

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
