package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// PINPrompt asks the user for the card PIN. It returns the PIN, which the
// caller wipes, or an error (cardinfo.ErrPINCancelled when the user
// declined).
type PINPrompt func(ctx context.Context, req PINRequest) ([]byte, error)

// PINRequest is what a PIN prompt must tell the user.
type PINRequest struct {
	// Origin is the page that asks to use the card.
	Origin string
	// Retries is how many PIN attempts the card has left: at least 1, as
	// no prompt is shown for a blocked card.
	Retries int
	// Wrong says that the PIN given just before, for the same request,
	// was wrong.
	Wrong bool
	// Signature says the page asks for a digital signature (POST
	// /api/sign) with the card's signing key, not to log in: the prompt
	// must say so.
	Signature bool
}

// LastAttempt reports whether a wrong PIN now blocks the card. A prompt
// must then say so plainly.
func (r PINRequest) LastAttempt() bool { return r.Retries == 1 }

// ErrNoPINPrompt is OpenSigner's error when the agent has no PIN prompt
// (Options.PINPrompt), so it cannot sign.
var ErrNoPINPrompt = errors.New("no PIN entry program is configured")

// OpenSigner begins a signing session on the first card present with its
// authentication key (slot 9A), as logging in with Web eID and NHS
// Credential Management's signing hub use it: it asks the user for the PIN
// through the PIN prompt (naming origin), has the card verify it, and
// returns the CardSigner to sign with, which the caller must Close. The
// session holds a PC/SC transaction and the reader's signing lock until
// then. The card's PIN is never left verified: not by another program when
// the session begins, nor by the session when it ends (see clearPINBefore).
// Errors: ErrNoPINPrompt; pcsc.ErrNoCard without a card;
// cardinfo.ErrPINCancelled; a *piv.WrongPINError when the user gave up
// after wrong PINs; piv.ErrPINBlocked; cardinfo.ErrBusy.
func (c *Core) OpenSigner(ctx context.Context, origin string) (*CardSigner, error) {
	return c.openSession(ctx, origin, false)
}

// OpenSignatureSigner is OpenSigner for a digital signature (POST
// /api/sign): the session signs with the card's signing key (see
// SigningCertificate), and the PIN prompt tells the user that origin asks
// for a signature, not a login. Its errors are OpenSigner's, and the
// certificate's when SigningCertificate refuses it.
func (c *Core) OpenSignatureSigner(ctx context.Context, origin string) (*CardSigner, error) {
	return c.openSession(ctx, origin, true)
}

// openSession is OpenSigner, with the signing key when signature is set.
func (c *Core) openSession(ctx context.Context, origin string, signature bool) (_ *CardSigner, err error) {
	if c.opt.PINPrompt == nil {
		return nil, ErrNoPINPrompt
	}
	if !c.beginSigning() {
		return nil, fmt.Errorf("the agent is restarting: %w", cardinfo.ErrBusy)
	}
	s := &CardSigner{core: c, release: c.endSigning, slot: piv.SlotAuthentication}
	defer func() {
		if err != nil {
			s.lastErr = err
			_ = s.Close()
		}
	}()
	if s.reader, s.id, err = c.currentIdentity(); err != nil {
		return nil, err
	}
	s.cert = s.id.Certificate
	if signature {
		if s.cert, s.slot, err = signingKey(s.reader, s.id); err != nil {
			return nil, err
		}
	}
	unlock, err := c.signLocks.lock(ctx, s.reader)
	if err != nil {
		return nil, err
	}
	s.release = func() { unlock(); c.endSigning() }
	conn, err := pcsc.Connect(ctx, s.reader)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	if err := conn.BeginTransaction(ctx); err != nil {
		return nil, err
	}
	if err := piv.SelectPIV(ctx, conn); err != nil {
		return nil, err
	}
	// No PIN caching: whatever verified the PIN before (another program, an
	// earlier session) is forgotten now, and this session's verification
	// when it ends.
	if s.resettable, err = c.clearPINBefore(ctx, conn, s.reader); err != nil {
		return nil, err
	}
	s.clearPIN = true
	if err := c.verifyPIN(ctx, conn, s.reader, PINRequest{Origin: origin, Signature: signature}); err != nil {
		return nil, err
	}
	return s, nil
}

// CardSigner is one signing session: it signs with the card's
// authentication key (slot 9A), or its signing key, after the PIN was
// verified, until Close. It implements webeid.Signer. It is for one
// goroutine at a time.
type CardSigner struct {
	core       *Core
	conn       *pcsc.Conn
	reader     string
	id         *piv.Identity     // the card's, as read when it was inserted
	cert       *x509.Certificate // the certificate of the key the session signs with
	slot       byte              // the key's PIV slot: 9A, or 9C for a signing key
	resettable bool              // the card took VERIFY P1=FF as the session began
	clearPIN   bool              // the PIN may be verified: clear it at Close
	lastErr    error             // the card's answer to the last command, for Close
	release    func()            // lets the next session on the reader, and StopSigning, go on
	closed     bool
}

// Certificate is the certificate of the key the session signs with: the
// card's authentication certificate, or its signing certificate.
func (s *CardSigner) Certificate() *x509.Certificate { return s.cert }

// SigningCertificate is the certificate of the card's signing key (see
// Core.SigningCertificate), for a token that carries it; its error is
// SigningCertificate's.
func (s *CardSigner) SigningCertificate() (*x509.Certificate, error) {
	cert, _, err := signingKey(s.reader, s.id)
	return cert, err
}

// Public is the certificate's public key.
func (s *CardSigner) Public() crypto.PublicKey { return s.cert.PublicKey }

// Sign signs digest, made with hash, with the card: RSA PKCS#1 v1.5 (the
// host pads) or ECDSA P-256 (ASN.1 DER, as the card answers).
func (s *CardSigner) Sign(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	if err := checkKey(s.cert.PublicKey); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	switch pub := s.cert.PublicKey.(type) {
	case *rsa.PublicKey:
		block, err := piv.PKCS1v15Pad(hash, digest, pub.Size())
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		return s.authenticate(ctx, piv.AlgRSA2048, block)
	default:
		// ECDSA signs the digest itself; P-256 takes at most 32 bytes of it.
		if len(digest) > 32 {
			digest = digest[:32]
		}
		return s.authenticate(ctx, piv.AlgECCP256, digest)
	}
}

// checkKey accepts the keys a PIV card signs with for cardbridge: RSA-2048
// and ECDSA P-256.
func checkKey(pub crypto.PublicKey) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.Size() != 256 {
			return fmt.Errorf("RSA key of %d bits: %w", pub.Size()*8, piv.ErrUnsupportedCard)
		}
		return nil
	case *ecdsa.PublicKey:
		if pub.Curve.Params().BitSize != 256 {
			return fmt.Errorf("EC key on %s: %w", pub.Curve.Params().Name, piv.ErrUnsupportedCard)
		}
		return nil
	}
	return fmt.Errorf("%T key: %w", pub, piv.ErrUnsupportedCard)
}

// authenticate has the card sign data with the session's key and remembers
// whether the card answered.
func (s *CardSigner) authenticate(ctx context.Context, alg byte, data []byte) ([]byte, error) {
	sig, err := piv.GeneralAuthenticate(ctx, s.conn, alg, s.slot, data)
	s.lastErr = err
	return sig, err
}

// Close ends the session: it leaves the card's PIN not verified (unless
// the card has gone), ends the PC/SC transaction, closes the connection and
// lets the next session on the reader begin. Its error is the transaction's
// end failing; closing again does nothing.
func (s *CardSigner) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.release()
	if s.conn == nil {
		return nil
	}
	defer s.conn.Close()
	if s.clearPIN && !cardGone(s.lastErr) {
		s.core.clearPINAfter(s.conn, s.reader, s.resettable)
	}
	// The session's own context may have ended; the transaction ends anyway.
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	return s.conn.EndTransaction(ctx)
}

// cardGone reports whether err says the card, its reader or the PC/SC
// service went away, or the connection broke: nothing more can be sent to
// the card on this connection.
func cardGone(err error) bool {
	return errors.Is(err, pcsc.ErrNoCard) || errors.Is(err, pcsc.ErrNoReader) ||
		errors.Is(err, pcsc.ErrUnavailable) || errors.Is(err, pcsc.ErrClosed)
}

// cardLocks serialises signing sessions per reader: a second page asking
// to sign while one signs waits its turn (as long as its own request
// allows), then gets its own PIN prompt.
type cardLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func (l *cardLocks) lock(ctx context.Context, reader string) (unlock func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]chan struct{}{}
	}
	ch := l.locks[reader]
	if ch == nil {
		ch = make(chan struct{}, 1)
		l.locks[reader] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the card: %w", cardinfo.ErrBusy)
	}
}

// clearPINBefore makes sure the card's PIN is not verified as a signing
// session starts, so that the session asks for it. It resets the PIN status
// with VERIFY P1=FF; a card built to an earlier PIV edition refuses that,
// and if its PIN is verified (by another program) the card is reset and the
// PIV application selected again. resettable says whether the card took
// VERIFY P1=FF.
func (c *Core) clearPINBefore(ctx context.Context, conn *pcsc.Conn, reader string) (resettable bool, err error) {
	err = piv.ResetPINStatus(ctx, conn)
	if err == nil {
		c.log.Debug().Str("reader", reader).Msg("PIN status cleared with VERIFY P1=FF")
		return true, nil
	}
	if !errors.Is(err, piv.ErrPINResetUnsupported) {
		return false, err
	}
	_, verified, err := piv.PINRetries(ctx, conn)
	if err != nil {
		return false, err
	}
	if !verified {
		c.log.Debug().Str("reader", reader).Msg("the card refuses VERIFY P1=FF; its PIN is not verified")
		return false, nil
	}
	if err := conn.Reset(ctx); err != nil {
		return false, fmt.Errorf("reset the card to clear the PIN another program verified: %w", err)
	}
	if err := piv.SelectPIV(ctx, conn); err != nil {
		return false, err
	}
	if _, verified, err = piv.PINRetries(ctx, conn); err != nil {
		return false, err
	}
	if verified {
		// Only another program verifying it again between the reset and
		// this check could do this; never sign on its PIN.
		return false, fmt.Errorf("the card's PIN is still verified after a card reset: %w", piv.ErrUnsupportedCard)
	}
	c.log.Info().Str("reader", reader).Msg("the card refuses VERIFY P1=FF and its PIN was verified: cleared by a card reset")
	return false, nil
}

// cleanupTimeout bounds clearing the PIN status, and ending the
// transaction, as a session ends, which happens even when the session's own
// context has ended.
const cleanupTimeout = 5 * time.Second

// clearPINAfter leaves the card's PIN not verified as a signing session
// ends: VERIFY P1=FF where the card takes it; otherwise, or when the card
// answers that with an error, a card reset if the PIN is verified. It logs
// what it used.
//
// It never resets a card that did not answer its last command: that card
// has most likely left the reader, and pcsc-lite, told to reset a card that
// left before it noticed, can fail to power the next card put in that
// reader. A card still there but mute is cleared when the next session
// starts.
func (c *Core) clearPINAfter(conn *pcsc.Conn, reader string, resettable bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	log := c.log.With().Str("reader", reader).Logger()
	if resettable {
		err := piv.ResetPINStatus(ctx, conn)
		switch {
		case err == nil:
			log.Debug().Msg("PIN status cleared with VERIFY P1=FF")
			return
		case !errors.Is(err, piv.ErrUnsupportedCard):
			log.Warn().Err(err).Msg("the card did not answer VERIFY P1=FF; its PIN status is cleared when the next session starts")
			return
		}
		log.Warn().Err(err).Msg("cannot clear the PIN status with VERIFY P1=FF; resetting the card")
	} else {
		_, verified, err := piv.PINRetries(ctx, conn)
		switch {
		case err == nil && !verified:
			log.Debug().Msg("the card refuses VERIFY P1=FF; its PIN is not verified")
			return
		case err != nil && !errors.Is(err, piv.ErrUnsupportedCard):
			log.Warn().Err(err).Msg("the card did not answer the PIN status; its PIN status is cleared when the next session starts")
			return
		}
	}
	if err := conn.Reset(ctx); err != nil {
		log.Warn().Err(err).Msg("cannot reset the card to clear its PIN status")
		return
	}
	log.Info().Msg("PIN status cleared by a card reset")
}

// beginSigning counts a signing session in, unless StopSigning has
// stopped them.
func (c *Core) beginSigning() bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	if c.gate.stopped {
		return false
	}
	c.gate.signing++
	return true
}

// endSigning counts a signing session out.
func (c *Core) endSigning() {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.gate.signing--
}

// StopSigning makes every later OpenSigner fail with cardinfo.ErrBusy,
// provided no signing session is under way; it reports whether it did. The
// agent calls it before it restarts, so that no PIN prompt or signature is
// cut short.
func (c *Core) StopSigning() bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	if c.gate.signing > 0 {
		return false
	}
	c.gate.stopped = true
	return true
}

// currentIdentity returns the reader and identity of the first card
// present, which must have been read.
func (c *Core) currentIdentity() (string, *piv.Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.readers {
		if r.card == nil {
			continue
		}
		id := r.card.id
		if id == nil || id.Certificate == nil {
			return "", nil, fmt.Errorf("the card in %q has no readable certificate: %w", r.name, piv.ErrUnsupportedCard)
		}
		return r.name, id, nil
	}
	return "", nil, fmt.Errorf("sign: %w", pcsc.ErrNoCard)
}

// SigningCertificate is the certificate of the key a digital signature
// (POST /api/sign) is made with, on the first card present: the card's
// digital signature certificate (slot 9C) where it has one, else its
// authentication certificate (slot 9A), the one key NHS cards carry and
// the one NHS Credential Management signs with. It waits for an identity
// being read, as Card does. Errors: pcsc.ErrNoCard without a card;
// piv.ErrUnsupportedCard when the certificate could not be read or its key
// is not one cardbridge signs with (RSA-2048, ECDSA P-256).
func (c *Core) SigningCertificate(ctx context.Context) (*x509.Certificate, error) {
	c.waitCard(ctx)
	reader, id, err := c.currentIdentity()
	if err != nil {
		return nil, err
	}
	cert, _, err := signingKey(reader, id)
	return cert, err
}

// signingKey returns the certificate and PIV slot of the signing key of
// the card in reader with identity id, as SigningCertificate describes it.
func signingKey(reader string, id *piv.Identity) (*x509.Certificate, byte, error) {
	cert, slot := id.Certificate, piv.SlotAuthentication
	switch {
	case id.SigningError != nil:
		return nil, 0, fmt.Errorf("the card in %q has a digital signature certificate (slot 9C) that cannot be read: %w", reader, id.SigningError)
	case id.SigningCertificate != nil:
		cert, slot = id.SigningCertificate, piv.SlotSignature
	}
	if err := checkKey(cert.PublicKey); err != nil {
		return nil, 0, fmt.Errorf("the card's signing certificate has an %w", err)
	}
	return cert, slot, nil
}

// maxPINAttempts bounds how often one request asks for the PIN after wrong
// entries (the card's own counter still rules).
const maxPINAttempts = 3

// verifyPIN prompts for the PIN with req (its Origin and Signature; the
// attempts are the card's) and verifies it, asking again after a wrong one
// while the card has retries left. Every wrong PIN is logged with the
// attempts left; the PIN never is.
func (c *Core) verifyPIN(ctx context.Context, conn piv.Card, reader string, req PINRequest) error {
	origin := req.Origin
	retries, verified, err := piv.PINRetries(ctx, conn)
	if err != nil {
		return err
	}
	if verified {
		return nil
	}
	if retries == 0 {
		c.log.Warn().Str("reader", reader).Str("origin", origin).Msg("the card's PIN is blocked; not asking for it")
		return piv.ErrPINBlocked
	}
	req.Retries, req.Wrong = retries, false
	var lastWrong error
	for attempt := 0; attempt < maxPINAttempts; attempt++ {
		pin, err := c.opt.PINPrompt(ctx, req)
		if err != nil {
			if lastWrong != nil && errors.Is(err, cardinfo.ErrPINCancelled) {
				return lastWrong // the user gave up after a wrong PIN
			}
			return err
		}
		err = piv.VerifyPIN(ctx, conn, pin)
		clear(pin)
		var wrong *piv.WrongPINError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &wrong) && wrong.Retries > 0:
			c.log.Warn().Str("reader", reader).Str("origin", origin).Int("attempts_left", wrong.Retries).Msg("wrong PIN")
			req.Retries, req.Wrong, lastWrong = wrong.Retries, true, err
			continue
		case errors.Is(err, piv.ErrPINBlocked):
			c.log.Error().Str("reader", reader).Str("origin", origin).Int("attempts_left", 0).Msg("wrong PIN: the card is now blocked")
			return err
		default:
			return err // the card failed
		}
	}
	return lastWrong
}
