package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
)

// pcscFacts is what the PC/SC service said.
type pcscFacts struct {
	err     error         // listing readers failed
	readers []pcsc.Reader // when err is nil
	cards   []api.Card    // one per reader holding a card, in reader order
}

// expiryWarning is how long before its certificate expires a card gets a
// warning.
const expiryWarning = 30 * 24 * time.Hour

func gatherPCSC(ctx context.Context, p Probes) pcscFacts {
	var f pcscFacts
	lctx, cancel := context.WithTimeout(ctx, pcscTimeout)
	f.readers, f.err = p.Readers(lctx)
	cancel()
	if f.err != nil {
		return f
	}
	cctx, cancel := context.WithTimeout(ctx, cardTimeout)
	defer cancel()
	for _, r := range f.readers {
		if r.CardPresent {
			f.cards = append(f.cards, p.ReadCard(cctx, r))
		}
	}
	return f
}

func checkPCSC(f pcscFacts, goos string) Check {
	c := Check{ID: "pcsc", Name: "PC/SC service"}
	switch {
	case f.err == nil:
		c.Status, c.Detail = OK, "running"
	case strings.Contains(f.err.Error(), "no PC/SC support"):
		c.Status, c.Detail, c.Fix = Fail, f.err.Error(), fixNoPCSCSupport()
	case errors.Is(f.err, context.DeadlineExceeded):
		c.Status, c.Detail, c.Fix = Fail, fmt.Sprintf("does not answer (no list of readers within %v)", pcscTimeout), fixRestartPCSC(goos)
	case errors.Is(f.err, pcsc.ErrUnavailable):
		c.Status, c.Detail, c.Fix = Fail, "not running ("+f.err.Error()+")", fixStartPCSC(goos)
	default:
		c.Status, c.Detail, c.Fix = Fail, "cannot list readers: "+f.err.Error(), fixRestartPCSC(goos)
	}
	return c
}

func checkReaders(f pcscFacts, goos string) Check {
	c := Check{ID: "readers", Name: "card readers"}
	if f.err != nil {
		c.Status, c.Detail = Skip, "not checked: the PC/SC service does not answer"
		return c
	}
	if len(f.readers) == 0 {
		c.Status, c.Detail, c.Fix = Fail, "no card reader found", fixNoReader(goos)
		return c
	}
	names := make([]string, len(f.readers))
	for i, r := range f.readers {
		names[i] = r.Name
	}
	c.Status, c.Detail = OK, fmt.Sprintf("%d: %s", len(names), strings.Join(names, ", "))
	return c
}

func checkCard(f pcscFacts, now time.Time) Check {
	c := Check{ID: "card", Name: "card"}
	switch {
	case f.err != nil:
		c.Status, c.Detail = Skip, "not checked: the PC/SC service does not answer"
		return c
	case len(f.readers) == 0:
		c.Status, c.Detail = Skip, "not checked: no card reader"
		return c
	case len(f.cards) == 0:
		where := "the reader"
		if len(f.readers) > 1 {
			where = "a reader"
		}
		c.Status, c.Detail = Fail, "no card in any reader"
		c.Fix = "insert your smartcard into " + where + ", chip first; if it is in, take it out and push it back in fully"
		return c
	}
	// The first card with an identity is the one pages will use.
	var good *api.Card
	var others []string
	for i := range f.cards {
		k := &f.cards[i]
		if good == nil && k.Error == nil && k.UUID != "" {
			good = k
			continue
		}
		others = append(others, describeCard(*k))
	}
	if good == nil {
		k := f.cards[0]
		c.Status, c.Detail = Fail, strings.Join(others, "; ")
		switch {
		case k.Error != nil && k.Error.Code == api.CodeBusy:
			c.Fix = "another program holds the card: close other smartcard software (or sign out and back in), then run doctor again"
		case k.Error != nil && k.Error.Code == api.CodeNoCard:
			c.Fix = "the card was removed while being read: insert it again and leave it in"
		default:
			c.Fix = "check that this is your smartcard and that it is inserted chip first; try it in another reader; if it still cannot be read, ask your Registration Authority to check the card"
		}
		return c
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("UUID %s in %s (%s", good.UUID, good.Reader, good.Subject)
	if na, err := time.Parse(time.RFC3339, good.NotAfter); err == nil {
		switch {
		case !now.Before(na):
			c.Status = Fail
			c.Detail += ", certificate expired " + na.UTC().Format(time.DateOnly)
			c.Fix = "the card's certificate has expired: ask your Registration Authority to renew your smartcard"
		case na.Sub(now) < expiryWarning:
			c.Status = Warn
			c.Detail += fmt.Sprintf(", certificate expires %s, in %s", na.UTC().Format(time.DateOnly), ago(na.Sub(now)))
			c.Fix = "ask your Registration Authority to renew your smartcard before " + na.UTC().Format(time.DateOnly)
		default:
			c.Detail += ", valid until " + na.UTC().Format(time.DateOnly)
		}
	}
	c.Detail += ")"
	if len(others) > 0 {
		c.Detail += "; also " + strings.Join(others, "; ")
	}
	return c
}

// describeCard says what is in a reader, without the certificate.
func describeCard(k api.Card) string {
	switch {
	case k.Error != nil:
		return fmt.Sprintf("the card in %s cannot be read (%s: %s)", k.Reader, k.Error.Code, k.Error.Message)
	case k.UUID == "":
		return fmt.Sprintf("the card in %s has no card holder UUID", k.Reader)
	}
	return fmt.Sprintf("UUID %s in %s", k.UUID, k.Reader)
}
