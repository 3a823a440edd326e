//go:build linux && cgo

package tests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
	"github.com/cardbridge/cardbridge/webeid"
)

// runCore runs an agent Core on the real pcscd for the rest of the test and
// returns it with a subscription past its start-up events.
func runCore(t *testing.T) (*agent.Core, *agent.Subscription) {
	t.Helper()
	return runCoreLog(t, zerolog.Nop())
}

// runCoreLog is runCore with the Core logging to log.
func runCoreLog(t *testing.T, log zerolog.Logger) (*agent.Core, *agent.Subscription) {
	t.Helper()
	core := agent.New(agent.Options{Monitor: pcsc.NewMonitor(pcsc.MonitorOptions{}), Logger: log, PINPrompt: promptFromContext})
	_, sub := core.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = core.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return core, sub
}

// waitIdentified waits for card-updated on the subscription.
func waitIdentified(t *testing.T, sub *agent.Subscription) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatal("subscription closed")
			}
			if ev.Type == agent.TypeCardUpdated {
				if strings.Contains(string(ev.JSON), `"error"`) {
					t.Fatalf("the card could not be identified: %s", ev.JSON)
				}
				return
			}
		case <-deadline:
			t.Fatal("the card was not identified within 15s")
		}
	}
}

// pins is a scripted PIN prompt: it answers each call with the next entry
// ("" cancels) and records what it was asked.
type pins struct {
	mu      sync.Mutex
	answers []string
	asked   []string // "origin|retries|wrong"
	hook    func()   // runs before answering
}

func (p *pins) prompt(ctx context.Context, req agent.PINRequest) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, fmt.Sprintf("%s|%d|%t", req.Origin, req.Retries, req.Wrong))
	if p.hook != nil {
		p.hook()
	}
	if len(p.answers) == 0 || p.answers[0] == "" {
		return nil, cardinfo.ErrPINCancelled
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return []byte(a), nil
}

// pinsKey carries, in a signing session's context, the *pins that answer
// its PIN prompt.
type pinsKey struct{}

// promptFromContext is the PIN prompt of the Cores runCore makes: the
// session's *pins answers it.
func promptFromContext(ctx context.Context, req agent.PINRequest) ([]byte, error) {
	return ctx.Value(pinsKey{}).(*pins).prompt(ctx, req)
}

const testNonce = "12345678123456781234567812345678912356789123"

func TestSignWebEIDToken(t *testing.T) {
	needPCSCD(t)
	for _, alg := range []string{"rsa2048", "p256"} {
		t.Run(alg, func(t *testing.T) {
			core, sub := runCore(t)
			c, cert, _ := newCard(t, testCard{uuid: "555000000090", alg: alg})
			insert(t, c, 0)
			waitIdentified(t, sub)
			p := &pins{answers: []string{"123456"}}
			tok, err := signToken(core, p)
			if err != nil {
				t.Fatal(err)
			}
			if p.asked[0] != "https://my.esr.nhs.uk|3|false" {
				t.Errorf("PIN prompt asked with %q", p.asked[0])
			}
			got, err := webeid.Verify(tok, "https://my.esr.nhs.uk", testNonce, time.Now())
			if err != nil || !got.Equal(cert) {
				t.Fatalf("token does not verify for its origin: %v", err)
			}
			if _, err := webeid.Verify(tok, "https://evil.example", testNonce, time.Now()); err == nil {
				t.Error("a token made for my.esr.nhs.uk verified for evil.example")
			}
		})
	}
}

func TestSignPINOutcomes(t *testing.T) {
	needPCSCD(t)
	log := &testutil.Buffer{}
	core, sub := runCoreLog(t, zerolog.New(log))
	c, _, _ := newCard(t, testCard{uuid: "555000000091"})
	insert(t, c, 0)
	waitIdentified(t, sub)
	sign := func(p *pins) error {
		_, err := signToken(core, p)
		return err
	}
	// Cancelled.
	if err := sign(&pins{answers: []string{""}}); cardinfo.CodeOf(err) != api.CodePINCancelled {
		t.Errorf("cancel: %v (%s)", err, cardinfo.CodeOf(err))
	}
	// Wrong, then right: asked again, told the attempts left.
	p := &pins{answers: []string{"864209", "123456"}}
	if err := sign(p); err != nil {
		t.Fatalf("wrong then right PIN: %v", err)
	}
	if len(p.asked) != 2 || p.asked[1] != "https://my.esr.nhs.uk|2|true" {
		t.Errorf("prompts = %q", p.asked)
	}
	// Wrong, then cancelled: WRONG_PIN.
	if err := sign(&pins{answers: []string{"864209", ""}}); cardinfo.CodeOf(err) != api.CodeWrongPIN {
		t.Errorf("wrong then cancel: %v (%s)", err, cardinfo.CodeOf(err))
	}
	// Wrong until blocked: PIN_BLOCKED, and later requests say so at once.
	// The card has two attempts left (the wrong PIN before the cancel
	// above): the second prompt is the last attempt, and says so.
	p = &pins{answers: []string{"864209", "864209"}}
	if err := sign(p); cardinfo.CodeOf(err) != api.CodePINBlocked {
		t.Errorf("three wrong: %v (%s)", err, cardinfo.CodeOf(err))
	}
	if want := []string{"https://my.esr.nhs.uk|2|false", "https://my.esr.nhs.uk|1|true"}; strings.Join(p.asked, " ") != strings.Join(want, " ") {
		t.Errorf("prompts = %q, want %q", p.asked, want)
	}
	// Every wrong PIN was logged with the attempts left, the last as the
	// block; no PIN was.
	for _, want := range []string{
		`"attempts_left":2,"message":"wrong PIN"`,
		`"attempts_left":1,"message":"wrong PIN"`,
		`"attempts_left":0,"message":"wrong PIN: the card is now blocked"`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the agent log has no %s:\n%s", want, log)
		}
	}
	if strings.Contains(log.String(), "864209") || strings.Contains(log.String(), "123456") {
		t.Errorf("a PIN is in the agent log:\n%s", log)
	}
	p = &pins{answers: []string{"123456"}}
	if err := sign(p); cardinfo.CodeOf(err) != api.CodePINBlocked || len(p.asked) != 0 {
		t.Errorf("blocked card: %v, prompts %q", err, p.asked)
	}
}

func TestSignConcurrentAndCardRemoved(t *testing.T) {
	needPCSCD(t)
	core, sub := runCore(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000092", alg: "p256"})
	insert(t, c, 0)
	waitIdentified(t, sub)
	run := func(p *pins) error {
		_, err := signToken(core, p)
		return err
	}
	// Two pages at once: both succeed, one after the other.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = run(&pins{answers: []string{"123456"}}) }()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent signing: %v, %v", errs[0], errs[1])
	}
	// The card pulled while the PIN prompt is up: a clean error.
	p := &pins{answers: []string{"123456"}, hook: func() { _ = c.Remove() }}
	err := run(p)
	if err == nil {
		t.Fatal("signing succeeded with the card removed")
	}
	if code := cardinfo.CodeOf(err); code != api.CodeNoCard && code != api.CodeUnsupportedCard {
		t.Errorf("card removed mid-signing: %v (%s)", err, code)
	}
	// The agent carries on: the card back in, signing works again.
	waitPresent(t, reader0, false)
	insert(t, c, 0)
	waitIdentified(t, sub)
	if err := run(&pins{answers: []string{"123456"}}); err != nil {
		t.Errorf("after re-insertion: %v", err)
	}
	if !errors.Is(run(&pins{answers: []string{"123456"}}), nil) {
		t.Error("second signing after re-insertion failed")
	}
}

// TestStopSigningWaitsForTheSession: the agent's restart after an upgrade
// must not cut a signing short. StopSigning refuses while a session (here
// held at its PIN prompt) is under way, and once it succeeds new sessions
// are refused as busy without touching the card.
func TestStopSigningWaitsForTheSession(t *testing.T) {
	needPCSCD(t)
	core, sub := runCore(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000098"})
	insert(t, c, 0)
	waitIdentified(t, sub)
	atPrompt, release := make(chan struct{}), make(chan struct{})
	p := &pins{answers: []string{"123456"}, hook: func() { close(atPrompt); <-release }}
	done := make(chan error, 1)
	go func() {
		_, err := signToken(core, p)
		done <- err
	}()
	select {
	case <-atPrompt:
	case <-time.After(15 * time.Second):
		t.Fatal("the signing session never asked for the PIN")
	}
	if core.StopSigning() {
		t.Fatal("StopSigning succeeded while a session waited for the PIN")
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the session under way failed: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the signing session did not finish")
	}
	if !core.StopSigning() {
		t.Fatal("StopSigning refused with no session under way")
	}
	asked := len(p.asked)
	_, err := signToken(core, p)
	if !errors.Is(err, cardinfo.ErrBusy) || !strings.Contains(err.Error(), "restarting") {
		t.Errorf("OpenSigner after StopSigning = %v, want ErrBusy (restarting)", err)
	}
	if len(p.asked) != asked {
		t.Error("OpenSigner after StopSigning asked for the PIN")
	}
}

// signToken runs one signing session on core, p answering its PIN prompt,
// that makes a Web eID token for https://my.esr.nhs.uk.
func signToken(core *agent.Core, p *pins) (*webeid.Token, error) {
	ctx := context.WithValue(context.Background(), pinsKey{}, p)
	s, err := core.OpenSigner(ctx, "https://my.esr.nhs.uk")
	if err != nil {
		return nil, err
	}
	tok, err := webeid.Create(ctx, s, s.Certificate(), "https://my.esr.nhs.uk", testNonce, webeid.AppVersionURL("0.1.0"))
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return tok, err
}

// pinResetCards are the cards whose PIN status the agent must clear: one
// that takes VERIFY P1=FF (SP 800-73-4) and two built to earlier PIV
// editions that refuse it; logged is how the agent says it cleared it.
var pinResetCards = []struct {
	name    string
	resetSW uint16
	logged  string
}{
	{"SP 800-73-4", 0, "PIN status cleared with VERIFY P1=FF"},
	{"earlier edition 6A86", 0x6A86, "PIN status cleared by a card reset"},
	{"earlier edition 6B00", 0x6B00, "PIN status cleared by a card reset"},
}

// connectPIV connects to the card in reader0 as another program would, on a
// connection of its own, and selects the PIV application; the caller closes
// the connection.
func connectPIV(t *testing.T) *pcsc.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pcsc.Connect(ctx, reader0)
	if err != nil {
		t.Fatal(err)
	}
	if err := piv.SelectPIV(ctx, conn); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn
}

// checkNotVerified checks, as checkPINCleared does, that the card in
// reader0 has its PIN not verified, and that GENERAL AUTHENTICATE without
// VERIFY is refused.
func checkNotVerified(t *testing.T, c *vcard.Card) {
	t.Helper()
	checkPINCleared(t, c)
	ctx := context.Background()
	conn := connectPIV(t)
	defer conn.Close()
	_, err := piv.GeneralAuthenticate(ctx, conn, piv.AlgECCP256, piv.SlotAuthentication, make([]byte, 32))
	if err == nil || !strings.Contains(err.Error(), "PIN not verified") {
		t.Errorf("GENERAL AUTHENTICATE without VERIFY = %v, want refused as PIN not verified", err)
	}
}

// checkNoCardEvents fails if the agent reports the card leaving or coming,
// since sub's last event and within the next second (pcscd polls vpcd's
// readers several times a second): a card reset must look like neither.
func checkNoCardEvents(t *testing.T, sub *agent.Subscription) {
	t.Helper()
	quiet := time.After(time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Type == pcsc.CardRemoved.String() || ev.Type == pcsc.CardInserted.String() {
				t.Errorf("the agent reported %s: %s", ev.Type, ev.JSON)
			}
		case <-quiet:
			return
		}
	}
}

// TestSignAsksForThePINEverySession: two signing sessions in a row each ask
// for the PIN, and neither leaves the card verified, whether the card clears
// its PIN status with VERIFY P1=FF or refuses that (earlier PIV editions)
// and is reset instead. The reset is no card removal to the agent: it keeps
// the card and its identity.
func TestSignAsksForThePINEverySession(t *testing.T) {
	needPCSCD(t)
	for i, tc := range pinResetCards {
		t.Run(tc.name, func(t *testing.T) {
			log := &testutil.Buffer{}
			core, sub := runCoreLog(t, zerolog.New(log).Level(zerolog.DebugLevel))
			c, _, _ := newCard(t, testCard{uuid: "555000000" + strconv.Itoa(300+i), alg: "p256", pinResetSW: tc.resetSW})
			insert(t, c, 0)
			waitIdentified(t, sub)
			p := &pins{answers: []string{"123456", "123456"}}
			for session := 1; session <= 2; session++ {
				if _, err := signToken(core, p); err != nil {
					t.Fatalf("session %d: %v (%s)", session, err, cardinfo.CodeOf(err))
				}
				if len(p.asked) != session {
					t.Fatalf("after session %d the PIN was asked for %d times: %q", session, len(p.asked), p.asked)
				}
				if p.asked[session-1] != "https://my.esr.nhs.uk|3|false" {
					t.Errorf("session %d asked %q", session, p.asked[session-1])
				}
				if c.PINVerified() {
					t.Errorf("the PIN stayed verified after session %d", session)
				}
			}
			checkNotVerified(t, c)
			checkNoCardEvents(t, sub)
			if card := core.Card(context.Background()); card.UUID != "555000000"+strconv.Itoa(300+i) {
				t.Errorf("after the sessions the agent's card is %+v", card)
			}
			logged := log.String()
			if !strings.Contains(logged, tc.logged) {
				t.Errorf("the log does not say %q:\n%s", tc.logged, logged)
			}
			if strings.Contains(logged, "123456") {
				t.Errorf("the log holds the PIN:\n%s", logged)
			}
		})
	}
}

// TestSignClearsAPINVerifiedElsewhere: a card whose PIN another program
// verified (and left verified) before the session has it cleared before the
// PIN prompt, so the session asks for the PIN: with VERIFY P1=FF, or with a
// card reset on a card that refuses that.
func TestSignClearsAPINVerifiedElsewhere(t *testing.T) {
	needPCSCD(t)
	for i, tc := range pinResetCards {
		t.Run(tc.name, func(t *testing.T) {
			core, sub := runCore(t)
			c, _, _ := newCard(t, testCard{uuid: "555000000" + strconv.Itoa(310+i), alg: "p256", pinResetSW: tc.resetSW})
			insert(t, c, 0)
			waitIdentified(t, sub)

			// Another program verifies the PIN and keeps its connection.
			ctx := context.Background()
			other := connectPIV(t)
			defer other.Close()
			if err := piv.VerifyPIN(ctx, other, []byte("123456")); err != nil {
				t.Fatal(err)
			}
			if !c.PINVerified() {
				t.Fatal("the other program's VERIFY left the PIN not verified")
			}

			verifiedAtPrompt := true
			p := &pins{answers: []string{"123456"}}
			p.hook = func() { verifiedAtPrompt = c.PINVerified() }
			if _, err := signToken(core, p); err != nil {
				t.Fatalf("Sign: %v (%s)", err, cardinfo.CodeOf(err))
			}
			if len(p.asked) != 1 {
				t.Fatalf("the PIN was asked for %d times, want once: %q", len(p.asked), p.asked)
			}
			if verifiedAtPrompt {
				t.Error("the PIN the other program verified was still verified at the prompt")
			}
			checkNotVerified(t, c)
			checkNoCardEvents(t, sub)
		})
	}
}

// TestSignCardRemovedAtThePrompt: a card pulled while the PIN prompt is up,
// whether it takes VERIFY P1=FF or not, ends the session with a clean error,
// and the same card put back signs again. The agent does not try to reset a
// card that has left, which on pcsc-lite can leave the reader unable to
// power the next card; the removal is repeated to give that a chance.
func TestSignCardRemovedAtThePrompt(t *testing.T) {
	needPCSCD(t)
	for i, tc := range pinResetCards {
		t.Run(tc.name, func(t *testing.T) {
			core, sub := runCore(t)
			c, _, _ := newCard(t, testCard{uuid: "555000000" + strconv.Itoa(320+i), alg: "p256", pinResetSW: tc.resetSW})
			insert(t, c, 0)
			waitIdentified(t, sub)
			for round := 1; round <= 3; round++ {
				p := &pins{answers: []string{"123456"}, hook: func() { _ = c.Remove() }}
				_, err := signToken(core, p)
				if code := cardinfo.CodeOf(err); err == nil || code != api.CodeNoCard && code != api.CodeUnsupportedCard {
					t.Fatalf("round %d: card removed at the prompt: %v (%s)", round, err, code)
				}
				waitPresent(t, reader0, false)
				insert(t, c, 0)
				waitIdentified(t, sub)
				p = &pins{answers: []string{"123456"}}
				if _, err := signToken(core, p); err != nil || len(p.asked) != 1 {
					t.Fatalf("round %d: after re-insertion: %v, prompts %q", round, err, p.asked)
				}
				if c.PINVerified() {
					t.Errorf("round %d: the PIN stayed verified", round)
				}
			}
		})
	}
}
