package policy

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Follow reads the policies when told they changed and has no timer
// otherwise; while the list comes from a DomainListFile (which may be on a
// share no notification covers) it also looks every Every.
func TestFollowReadsWhenTold(t *testing.T) {
	var current atomic.Pointer[Set]
	current.Store(load(nil))
	var reads atomic.Int32
	tell := make(chan struct{}, 1)
	f := &Follower{
		Load:  func() *Set { reads.Add(1); return current.Load() },
		Watch: func(context.Context) (<-chan struct{}, error) { return tell, nil },
		Log:   zerolog.Nop(),
		Every: 20 * time.Millisecond,
	}
	got := make(chan *Imposed, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Follow(ctx, func(imp *Imposed) { got <- imp }); close(done) }()
	defer func() { cancel(); <-done }()

	next := func(what string) *Imposed {
		t.Helper()
		select {
		case imp := <-got:
			return imp
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change followed within 5 s", what)
			return nil
		}
	}
	none := func(what string) {
		t.Helper()
		select {
		case imp := <-got:
			t.Fatalf("%s: followed %+v", what, imp)
		case <-time.After(300 * time.Millisecond):
		}
	}

	current.Store(load([]source{{where: "p", read: fixed(Values{"DomainList": []any{"https://a.example"}}, nil)}}))
	none("a change nobody told of (no timer without a DomainListFile)")
	if n := reads.Load(); n != 0 {
		t.Errorf("the policies were read %d times with nothing told", n)
	}
	tell <- struct{}{}
	if imp := next("told"); imp == nil || !imp.List.Allows("https://a.example") {
		t.Fatalf("told of a new list: followed %+v", imp)
	}

	// A DomainListFile: its changes are seen without being told.
	file := filepath.Join(t.TempDir(), "DomainList.txt")
	if err := os.WriteFile(file, []byte("https://b.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	current.Store(load([]source{{where: "p", read: fixed(Values{"DomainListFile": file}, nil)}}))
	tell <- struct{}{}
	if imp := next("told of the file policy"); imp == nil || !imp.List.Allows("https://b.example") {
		t.Fatalf("the file's list: followed %+v", imp)
	}
	if err := os.WriteFile(file, []byte("https://c.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if imp := next("the file changed, nothing told"); imp == nil || !imp.List.Allows("https://c.example") {
		t.Fatalf("the file's new list: followed %+v", imp)
	}

	// The policy gone: back to no timer.
	current.Store(load(nil))
	tell <- struct{}{}
	if imp := next("told the policy went"); imp != nil {
		t.Fatalf("no policy: followed %+v", imp)
	}
	time.Sleep(50 * time.Millisecond)
	before := reads.Load()
	time.Sleep(200 * time.Millisecond)
	if n := reads.Load() - before; n != 0 {
		t.Errorf("the policies were read %d times in 200 ms without a DomainListFile or a change told", n)
	}
}

// Where nothing can tell of changes, Follow looks every Every; and when
// the notifications stop, it goes on looking.
func TestFollowLooksWhenNotTold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		watch func(context.Context) (<-chan struct{}, error)
	}{
		{"Poll", Poll},
		{"notifications ended", func(context.Context) (<-chan struct{}, error) {
			ch := make(chan struct{})
			close(ch)
			return ch, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var current atomic.Pointer[Set]
			current.Store(load(nil))
			f := &Follower{Load: current.Load, Watch: tc.watch, Log: zerolog.Nop(), Every: 10 * time.Millisecond}
			got := make(chan *Imposed, 10)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { f.Follow(ctx, func(imp *Imposed) { got <- imp }); close(done) }()
			defer func() { cancel(); <-done }()
			current.Store(load([]source{{where: "p", read: fixed(Values{"DomainList": []any{"https://a.example"}}, nil)}}))
			select {
			case imp := <-got:
				if imp == nil || !imp.List.Allows("https://a.example") {
					t.Fatalf("followed %+v", imp)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a change not followed within 5 s")
			}
		})
	}
}
