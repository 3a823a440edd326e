// Command vcard inserts a virtual PIV smart card into a vsmartcard vpcd reader
// of the local pcscd and keeps it there until interrupted, for demos and
// manual testing of cardbridge without a physical NHS smartcard.
//
//	go run ./tools/vcard [--reader 0|1] [--addr HOST:PORT] [--cn 555123456789]
//	    [--alg rsa2048|p256] [--signing-alg rsa2048|p256] [--pin 123456]
//	    [--fault none|no-piv|...] [--delay 2s] [--compress] [--verbose]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cardbridge/cardbridge/internal/vcard"
)

// options are the command-line settings.
type options struct {
	reader   int
	addr     string
	cn       string
	alg      string
	signAlg  string // a slot 9C key and certificate of this algorithm; "" for none
	pin      string
	fault    vcard.Fault
	delay    time.Duration
	compress bool
	verbose  bool
	stdout   io.Writer
	stderr   io.Writer
}

// seenTimeout is how long pcscd gets to poll a newly inserted card.
const seenTimeout = 5 * time.Second

func main() {
	o := options{stdout: os.Stdout, stderr: os.Stderr}
	fs := flag.NewFlagSet("vcard", flag.ExitOnError)
	fs.IntVar(&o.reader, "reader", 0, "vpcd reader index: 0 (Virtual PCD 00 00) or 1 (Virtual PCD 00 01)")
	fs.StringVar(&o.addr, "addr", "", "vpcd address HOST:PORT, overriding --reader")
	fs.StringVar(&o.cn, "cn", "555123456789", "card holder UUID, the certificate subject CN")
	fs.StringVar(&o.alg, "alg", "rsa2048", "key algorithm: rsa2048 or p256")
	fs.StringVar(&o.signAlg, "signing-alg", "", "also a digital signature key (slot 9C) of this algorithm, rsa2048 or p256; none by default, as on NHS cards")
	fs.StringVar(&o.pin, "pin", vcard.DefaultPIN, "card PIN")
	fault := fs.String("fault", "none", "misbehaviour: "+strings.Join(vcard.FaultNames(), ", "))
	fs.DurationVar(&o.delay, "delay", vcard.DefaultDelay, "answer delay for --fault slow")
	fs.BoolVar(&o.compress, "compress", false, "store the certificate gzip-compressed")
	fs.BoolVar(&o.verbose, "verbose", false, "log every exchange to stderr (never PIN bytes)")
	fs.Parse(os.Args[1:])

	var err error
	if o.fault, err = vcard.ParseFault(*fault); err != nil {
		fmt.Fprintf(os.Stderr, "vcard: %v\n", err)
		os.Exit(2)
	}
	if o.reader < 0 {
		fmt.Fprintln(os.Stderr, "vcard: --reader must be 0 or more")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := o.run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "vcard: %v\n", err)
		os.Exit(1)
	}
}

// run inserts the card and keeps it inserted until ctx ends.
func (o options) run(ctx context.Context) error {
	addr, where := o.addr, "at "+o.addr
	if addr == "" {
		addr = vcard.ReaderAddr(o.reader)
		where = fmt.Sprintf("in reader %d %q at %s", o.reader, vcard.ReaderName(o.reader), addr)
	}
	cert, key, err := vcard.NewIdentity(o.alg, vcard.NHSSubject(o.cn), time.Time{})
	if err != nil {
		return err
	}
	cfg := vcard.Config{
		Certificate: cert,
		Key:         key,
		Compress:    o.compress,
		PIN:         o.pin,
		Fault:       o.fault,
		Delay:       o.delay,
	}
	if o.signAlg != "" {
		if cfg.SigningCertificate, cfg.SigningKey, err = vcard.NewSigningIdentity(o.signAlg, cert, key); err != nil {
			return err
		}
	}
	if o.verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(o.stderr, format+"\n", args...) }
	}
	card := vcard.New(cfg)
	if err := o.insert(ctx, card, addr); err != nil || ctx.Err() != nil {
		return err
	}
	defer card.Remove()
	fmt.Fprintf(o.stdout, "virtual PIV card with UUID %s (%s, fault %s) inserted %s; press Ctrl-C to remove it\n", o.cn, o.alg, o.fault, where)

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return card.Remove()
		case <-tick.C:
		}
		if card.Inserted() {
			continue
		}
		// The reader or a FaultDisconnect dropped the card: put it back.
		fmt.Fprintf(o.stderr, "vcard: the card left the reader at %s; inserting it again\n", addr)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		if err := o.insert(ctx, card, addr); err != nil {
			return err
		}
	}
}

// insert puts card into the reader at addr and waits until pcscd polls it.
func (o options) insert(ctx context.Context, card *vcard.Card, addr string) error {
	if err := card.Insert(addr); err != nil {
		if o.verbose {
			fmt.Fprintf(o.stderr, "vcard: %v\n", err)
		}
		return fmt.Errorf("cannot reach the virtual reader at %s: is pcscd running with vsmartcard-vpcd installed?", addr)
	}
	wctx, cancel := context.WithTimeout(ctx, seenTimeout)
	defer cancel()
	err := card.WaitSeen(wctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		card.Remove()
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		card.Remove()
		return fmt.Errorf("the virtual reader at %s accepted the card but pcscd did not poll it within %v: is another virtual card already in that reader?", addr, seenTimeout)
	default:
		card.Remove()
		return fmt.Errorf("the virtual reader at %s dropped the card at once: is another virtual card already in that reader?", addr)
	}
}
