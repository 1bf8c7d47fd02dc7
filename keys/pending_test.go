package keys_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// appendEnv is a Keys and a Log on one crashable in-memory database, as
// the server has them.
type appendEnv struct {
	*env
	fs  *vfs.MemFS
	log *log.Log
}

func newAppendEnv(t *testing.T) *appendEnv {
	t.Helper()
	fs := vfs.NewCrashableMem()
	a := &appendEnv{env: newEnv(t, location{fs: fs, dir: "data"}), fs: fs}
	a.openLog()
	return a
}

func (a *appendEnv) openLog() {
	a.t.Helper()
	l, err := log.Open(a.db, log.Options{Now: a.clock.Now})
	if err != nil {
		a.t.Fatal(err)
	}
	a.log = l
	a.t.Cleanup(func() { a.log.Close() })
}

// appendWith appends one event to stream 1 carrying p.
func (a *appendEnv) appendWith(p *keys.Pending) {
	a.t.Helper()
	var also log.Also
	if !p.Empty() {
		also = p
	}
	if _, err := a.log.AppendAlso(context.Background(), 1, []log.Record{{Value: []byte("event")}}, also); err != nil {
		a.t.Fatal(err)
	}
}

func (a *appendEnv) forAppend(value, subject string, p *keys.Pending) *keys.Key {
	a.t.Helper()
	k, err := a.ks.ForAppend(1, value, subject, p)
	if err != nil {
		a.t.Fatal(err)
	}
	return k
}

// crash replaces the database by what a crash now would leave of it: only
// what was synced.
func (a *appendEnv) crash() {
	a.t.Helper()
	clone := a.fs.CrashClone(vfs.CrashCloneCfg{})
	a.log.Close()
	a.close()
	a.fs = clone
	a.loc = location{fs: clone, dir: "data"}
	a.open()
	a.openLog()
}

// A link ForAppend creates is handed out at once and stored by the append
// that carries it, with the event: a crash after the append keeps it, and
// it costs no commit of its own.
func TestForAppendLinkDurableWithItsAppend(t *testing.T) {
	a := newAppendEnv(t)
	p := a.ks.Pending()
	k := a.forAppend("session-1", "alice", p)
	if p.Empty() {
		t.Fatal("Pending is empty after a new link")
	}
	if got := a.links(1); len(got) != 0 {
		t.Fatalf("Links before the append = %+v, want none", got)
	}
	if again := a.forAppend("session-1", "alice", p); again != k {
		t.Fatalf("ForAppend again: link %s, want %s", again.ID, k.ID)
	}
	a.appendWith(p)
	a.crash()
	if got := a.links(1); len(got) != 1 || got[0].ID != k.ID {
		t.Fatalf("Links after append and crash = %+v, want only %s", got, k.ID)
	}
	if got := a.mustFor(1, "session-1", "alice"); got.ID != k.ID {
		t.Fatalf("For after the crash: link %s, want %s", got.ID, k.ID)
	}
	forgot, err := a.ks.Forget("alice")
	if err != nil || len(forgot) != 1 || forgot[0].ID != k.ID {
		t.Fatalf("Forget(alice) = %+v, %v; want %s", forgot, err, k.ID)
	}
}

// A link whose events were never appended is lost by a crash, and no
// stored event names it; the value gets a new link.
func TestForAppendNotAppendedIsLostByCrash(t *testing.T) {
	a := newAppendEnv(t)
	k := a.forAppend("session-1", "alice", a.ks.Pending())
	a.crash()
	if got := a.links(1); len(got) != 0 {
		t.Fatalf("Links after a crash = %+v, want none", got)
	}
	if got := a.mustFor(1, "session-1", "alice"); got.ID == k.ID {
		t.Fatalf("For after the crash gave the lost link %s", k.ID)
	}
	if got, err := a.ks.Forget("alice"); err != nil || len(got) != 1 {
		t.Fatalf("Forget(alice) = %+v, %v; want one link", got, err)
	}
}

// Every append that uses a link not yet stored carries it, so an append
// that commits before the one of the goroutine that made the link still
// makes it durable; and goroutines that see one new value at once share
// one link.
func TestForAppendConcurrentOneLink(t *testing.T) {
	a := newAppendEnv(t)
	const n = 8
	ids := make([]string, n)
	pendings := make([]*keys.Pending, n)
	var wg sync.WaitGroup
	for i := range n {
		pendings[i] = a.ks.Pending()
		wg.Go(func() { ids[i] = a.forAppend("session-1", "alice", pendings[i]).ID })
	}
	wg.Wait()
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("ForAppend %d: link %s, want %s (one link per value)", i, ids[i], ids[0])
		}
		if pendings[i].Empty() {
			t.Fatalf("ForAppend %d: Pending is empty before any append", i)
		}
	}
	// The last one appends first and alone, then the rest crash.
	a.appendWith(pendings[n-1])
	a.crash()
	if got := a.links(1); len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("Links after the crash = %+v, want only %s", got, ids[0])
	}
}

// Once an append stored a link and subject, ForAppend adds nothing for
// them, and a Pending that still holds them writes nothing again.
func TestForAppendStoredOnce(t *testing.T) {
	a := newAppendEnv(t)
	first, second := a.ks.Pending(), a.ks.Pending()
	k := a.forAppend("session-1", "alice", first)
	a.forAppend("session-1", "alice", second)
	a.appendWith(first)
	if p := a.ks.Pending(); a.forAppend("session-1", "alice", p) != k || !p.Empty() {
		t.Fatalf("ForAppend after the append: Pending empty %v, want true", p.Empty())
	}
	a.appendWith(second)
	if got := a.ks.Counts(); got != (keys.LinkCounts{Live: 1}) {
		t.Fatalf("Counts = %+v, want 1 live", got)
	}
	a.check()
}

// A subject recorded by ForAppend against a stored link is not written if
// the link is shredded before the append: shredding is never undone, and
// no subject entry is left naming a tombstone.
func TestForAppendSubjectOfShreddedLink(t *testing.T) {
	a := newAppendEnv(t)
	k := a.mustFor(1, "session-1", "alice")
	p := a.ks.Pending()
	if a.forAppend("session-1", "bob", p) != k || p.Empty() {
		t.Fatalf("ForAppend with a new subject: Pending empty %v, want false", p.Empty())
	}
	if got, err := a.ks.Forget("alice"); err != nil || len(got) != 1 {
		t.Fatalf("Forget(alice) = %+v, %v", got, err)
	}
	a.appendWith(p)
	a.check()
	if got, err := a.ks.Get(k.ID); err == nil || !got.Shredded {
		t.Fatalf("Get(%s) after the append = %+v, %v; want shredded", k.ID, got, err)
	}
	if got, err := a.ks.Forget("bob"); err != nil || len(got) != 0 {
		t.Fatalf("Forget(bob) = %+v, %v; want no link", got, err)
	}
}

// A link is stored only with an append to a stream that still takes
// them: the Pending of a failed append stays pending for the next one.
func TestForAppendFailedAppendKeepsPending(t *testing.T) {
	a := newAppendEnv(t)
	p := a.ks.Pending()
	k := a.forAppend("session-1", "alice", p)
	if err := a.log.Drop(2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.log.AppendAlso(context.Background(), 2, []log.Record{{Value: []byte("event")}}, p); err == nil {
		t.Fatal("append to a dropped stream succeeded")
	}
	if got := a.links(1); len(got) != 0 {
		t.Fatalf("Links after a failed append = %+v, want none", got)
	}
	q := a.ks.Pending()
	if a.forAppend("session-1", "alice", q) != k || q.Empty() {
		t.Fatalf("ForAppend after a failed append: Pending empty %v, want false", q.Empty())
	}
	a.appendWith(q)
	if got := a.links(1); !slices.Equal(linkIDs(got), []string{k.ID}) {
		t.Fatalf("Links = %+v, want %s", got, k.ID)
	}
}

// An append carrying a Pending of a closed Keys fails, and writes nothing.
func TestForAppendClosedKeys(t *testing.T) {
	a := newAppendEnv(t)
	p := a.ks.Pending()
	a.forAppend("session-1", "alice", p)
	if err := a.ks.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := a.log.AppendAlso(context.Background(), 1, []log.Record{{Value: []byte("event")}}, p)
	if err != keys.ErrClosed {
		t.Fatalf("append = %v, want %v", err, keys.ErrClosed)
	}
	if first, next, err := a.log.Bounds(1); err != nil || first != 0 || next != 0 {
		t.Fatalf("Bounds = %d, %d, %v; want 0, 0", first, next, err)
	}
	a.log.Close()
	if err := a.db.Close(); err != nil {
		t.Fatal(err)
	}
	a.db = nil
}
