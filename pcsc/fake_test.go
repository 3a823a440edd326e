package pcsc

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"time"
)

// fakeService is an in-memory PC/SC service for unit tests of the watch
// logic. The real pcscd is exercised by the integration tests in tests/.
type fakeService struct {
	mu       sync.Mutex
	cond     *sync.Cond
	up       bool
	readers  map[string]*fakeReader
	pnpCount uint32
	gen      int // bumped by every change, wakes waiters
	calls    int // GetStatusChange calls, to detect spinning
	listErr  error
}

type fakeReader struct {
	present bool
	atr     []byte
	count   uint32
}

func newFakeService() *fakeService {
	f := &fakeService{up: true, readers: map[string]*fakeReader{}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeService) change(fn func()) {
	f.mu.Lock()
	fn()
	f.gen++
	f.mu.Unlock()
	f.cond.Broadcast()
}

func (f *fakeService) addReader(name string) {
	f.change(func() { f.readers[name] = &fakeReader{}; f.pnpCount++ })
}

func (f *fakeService) removeReader(name string) {
	f.change(func() { delete(f.readers, name); f.pnpCount++ })
}

func (f *fakeService) insert(name string, atr []byte) {
	f.change(func() { r := f.readers[name]; r.present, r.atr = true, atr; r.count++ })
}

func (f *fakeService) remove(name string) {
	f.change(func() { r := f.readers[name]; r.present, r.atr = false, nil; r.count++ })
}

func (f *fakeService) setUp(up bool) { f.change(func() { f.up = up }) }

func (f *fakeService) establish() (sysContext, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return nil, &Error{Op: "SCardEstablishContext", Code: codeNoService, Msg: "no service", Kind: ErrUnavailable}
	}
	return &fakeContext{f: f}, nil
}

type fakeContext struct {
	f         *fakeService
	cancelled bool
	released  bool
}

func (c *fakeContext) errIfDown(op string) error {
	if c.released {
		return &Error{Op: op, Code: codeInvalidHandle, Msg: "invalid handle", Kind: ErrUnavailable}
	}
	if !c.f.up {
		return &Error{Op: op, Code: codeNoService, Msg: "no service", Kind: ErrUnavailable}
	}
	return nil
}

func (c *fakeContext) ListReaders() ([]string, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if err := c.errIfDown("SCardListReaders"); err != nil {
		return nil, err
	}
	if c.f.listErr != nil {
		return nil, c.f.listErr
	}
	var out []string
	for n := range c.f.readers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (c *fakeContext) eventState(name string) (uint32, []byte, bool) {
	if name == pnpReader {
		return c.f.pnpCount << 16, nil, true
	}
	r, ok := c.f.readers[name]
	if !ok {
		return stateUnknown | stateChanged, nil, false
	}
	s := r.count << 16
	if r.present {
		return s | statePresent, r.atr, true
	}
	return s | stateEmpty, nil, true
}

func (c *fakeContext) GetStatusChange(states []readerState, timeout time.Duration) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.calls++
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if err := c.errIfDown("SCardGetStatusChange"); err != nil {
			return err
		}
		if c.cancelled {
			c.cancelled = false
			return &Error{Op: "SCardGetStatusChange", Code: codeCancelled, Msg: "cancelled", Kind: errCancelled}
		}
		changed := false
		for i := range states {
			ev, atr, ok := c.eventState(states[i].Reader)
			if !ok && states[i].Reader != pnpReader {
				return &Error{Op: "SCardGetStatusChange", Code: codeUnknownReader, Msg: "unknown reader", Kind: ErrNoReader}
			}
			if ev != states[i].Current&^stateChanged {
				ev |= stateChanged
				changed = true
			}
			states[i].Event, states[i].ATR = ev, bytes.Clone(atr)
		}
		if changed {
			return nil
		}
		if timeout >= 0 && !time.Now().Before(deadline) {
			return &Error{Op: "SCardGetStatusChange", Code: codeTimeout, Msg: "timeout", Kind: errTimeout}
		}
		if timeout >= 0 {
			// Wake up for the deadline too.
			t := time.AfterFunc(time.Until(deadline), c.f.cond.Broadcast)
			c.f.cond.Wait()
			t.Stop()
		} else {
			c.f.cond.Wait()
		}
	}
}

func (c *fakeContext) Cancel() error {
	c.f.mu.Lock()
	c.cancelled = true
	c.f.mu.Unlock()
	c.f.cond.Broadcast()
	return nil
}

func (c *fakeContext) Release() error {
	c.f.mu.Lock()
	c.released = true
	c.f.mu.Unlock()
	return nil
}

func (c *fakeContext) Connect(reader string) (sysCard, error) {
	return nil, errors.New("fake: no card I/O")
}
