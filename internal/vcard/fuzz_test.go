package vcard

import (
	"testing"
)

// FuzzHandle feeds sequences of arbitrary command APDUs to the card's APDU
// handler and checks that it never panics and always answers a status word.
// The first input byte picks the fault and whether the PIV application is
// selected and the PIN verified first; the rest is a series of APDUs, each a
// length byte followed by that many bytes.
func FuzzHandle(f *testing.F) {
	f.Add([]byte{0x00, 5, 0x00, 0xCB, 0x3F, 0xFF, 0x00})
	f.Add(append([]byte{0x10, byte(len(getDataCert))}, getDataCert...))
	f.Add(append([]byte{0x30, 5, 0x00, 0xC0, 0x00, 0x00, 0x00, byte(len(getDataCert))}, getDataCert...))
	f.Add(append([]byte{0x10, byte(len(selectFull))}, selectFull...))
	f.Add(append([]byte{0x22, byte(len(pinStatus))}, pinStatus...))
	for _, cmd := range generalAuthCmds(0x11, dynAuth(make([]byte, 32)), 16) {
		f.Add(append([]byte{0x31, byte(len(cmd))}, cmd...))
	}
	f.Add(append([]byte{0x30, 42}, generalAuthCmds(0x07, dynAuth(make([]byte, 32)), 0)[0]...))
	f.Add([]byte{0x14, 4, 0x10, 0x87, 0x07, 0x9A, 6, 0x00, 0x87, 0x07, 0x9A, 0x01, 0x7C})

	rsaCfg, p256Cfg := cardConfig(f, "rsa2048"), cardConfig(f, "p256")
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		mode := in[0]
		cfg := p256Cfg
		if mode&0x40 != 0 {
			cfg = rsaCfg
		}
		cfg.Fault = Fault(mode & 0x07 % 7)
		cfg.Compress = mode&0x80 != 0
		cfg.ChunkSize = []int{256, 1, 7, 300}[mode>>2&0x03]
		card := New(cfg)
		send := func(cmd []byte) {
			resp, drop := card.handle(cmd)
			if drop {
				if cfg.Fault != FaultDisconnect {
					t.Fatalf("card dropped % X without FaultDisconnect", head(cmd))
				}
				return
			}
			if len(resp) < 2 {
				t.Fatalf("answer to % X is %d bytes, want at least a status word", head(cmd), len(resp))
			}
			if len(resp)-2 > cfg.ChunkSize {
				t.Fatalf("answer to % X carries %d bytes, more than the %d chunk size", head(cmd), len(resp)-2, cfg.ChunkSize)
			}
		}
		if mode&0x10 != 0 {
			send(selectFull)
		}
		if mode&0x20 != 0 {
			send(verifyCmd("123456"))
		}
		for rest := in[1:]; len(rest) > 0; {
			n := min(int(rest[0]), len(rest)-1)
			send(rest[1 : 1+n])
			rest = rest[1+n:]
		}
	})
}
