package keys_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
)

// sharedGateways opens n Keys with Options.Shared on one state: the keys
// of n gateways of the scale-out mode.
func sharedGateways(t *testing.T, clk *clock, n int) []*keys.Keys {
	t.Helper()
	db := openDB(t, location{fs: vfs.NewMem(), dir: "data"})
	t.Cleanup(func() { db.Close() })
	kv, master := store.PebbleKV(db), newMaster(t)
	gw := make([]*keys.Keys, n)
	for i := range gw {
		ks, err := keys.Open(kv, keys.Options{Now: clk.Now, Master: master, Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		gw[i] = ks
	}
	return gw
}

// Two gateways (two Keys with Options.Shared on one state) that see a new
// session at once use one key link: the state decides, and the loser
// reads the winner's link. A link one of them shreds is dropped from the
// other's cache by SeeShreds.
func TestSharedGateways(t *testing.T) {
	clk := newClock()
	gw := sharedGateways(t, clk, 2)

	const sessions, rounds = 20, 4
	ids := make([][]string, len(gw)*rounds)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			ks := gw[i%len(gw)]
			for s := range sessions {
				k, err := ks.For(1, "session-"+string(rune('a'+s)), "alice")
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = append(ids[i], k.ID)
			}
		})
	}
	wg.Wait()
	for i := range ids {
		for s := range sessions {
			if ids[i][s] != ids[0][s] {
				t.Fatalf("session %d: caller %d got link %s, caller 0 got %s; want one link", s, i, ids[i][s], ids[0][s])
			}
		}
	}
	// Each gateway counts the links it created.
	if got := gw[0].Counts().Live + gw[1].Counts().Live; got != sessions {
		t.Fatalf("links created by the gateways = %d, want %d", got, sessions)
	}

	// Gateway 0 forgets alice; gateway 1 still has her links cached until
	// it reads the shreds log.
	links, err := gw[0].Forget("alice")
	if err != nil || len(links) != sessions {
		t.Fatalf("Forget = %d links, %v; want %d", len(links), err, sessions)
	}
	if err := gw[1].SeeShreds(); err != nil {
		t.Fatal(err)
	}
	if _, err := gw[1].Get(ids[0][0]); !errors.Is(err, keys.ErrShredded) {
		t.Fatalf("gateway 1 after SeeShreds: Get = %v, want ErrShredded", err)
	}
	clk.Advance(time.Minute)
	k2, err := gw[1].For(1, "session-a", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID == ids[0][0] {
		t.Fatalf("gateway 1 after the forget: For gave the shredded link %s, want a new one", k2.ID)
	}
}

// Prefetch creates a batch's new links in one commit; a batch where
// another gateway holds one of the links writes nothing, and For finds
// each link as before; subjects are recorded with their links.
func TestSharedPrefetch(t *testing.T) {
	gws := sharedGateways(t, newClock(), 2)
	g0, g1 := gws[0], gws[1]
	values := []string{"a", "b", "c", "a"}
	subjects := []string{"alice", "bob", "", "alice"}
	g0.Prefetch(1, values, subjects)
	if got := g0.Counts().Live; got != 3 {
		t.Fatalf("links after Prefetch = %d, want 3 (a, b, c)", got)
	}
	ids := map[string]string{}
	for i, v := range values {
		k, err := g1.For(1, v, subjects[i]) // the other gateway reads them
		if err != nil {
			t.Fatal(err)
		}
		k0, err := g0.For(1, v, subjects[i]) // cached where they were made
		if err != nil || k0.ID != k.ID {
			t.Fatalf("value %s: gateway 0 has link %s (%v), gateway 1 %s", v, k0.ID, err, k.ID)
		}
		ids[v] = k.ID
	}
	if g1.Counts().Live != 0 {
		t.Fatalf("gateway 1 created %d links, want 0", g1.Counts().Live)
	}

	// "e" is held by gateway 0 (not cached by gateway 1) and "d" is new:
	// gateway 1's Prefetch writes nothing, and For then reads "e" and
	// creates "d" alone. A value gateway 1 has cached is skipped.
	e0, err := g0.For(1, "e", "")
	if err != nil {
		t.Fatal(err)
	}
	g1.Prefetch(1, []string{"c", "e", "d"}, []string{"", "", ""})
	if g1.Counts().Live != 0 {
		t.Fatalf("a Prefetch that met a held link created %d", g1.Counts().Live)
	}
	if k, err := g1.For(1, "e", ""); err != nil || k.ID != e0.ID {
		t.Fatalf("For(e) on gateway 1 = %v, %v; want %s", k, err, e0.ID)
	}
	if _, err := g1.For(1, "d", ""); err != nil || g1.Counts().Live != 1 {
		t.Fatalf("For(d) on gateway 1: %v, %d links created", err, g1.Counts().Live)
	}
	// A batch of values cached or new: the new one is created in it.
	g1.Prefetch(1, []string{"c", "f"}, []string{"", ""})
	if g1.Counts().Live != 2 {
		t.Fatalf("Prefetch of c (cached) and f (new): %d links created by gateway 1, want 2", g1.Counts().Live)
	}

	links, err := g1.Forget("alice")
	if err != nil || len(links) != 1 || links[0].ID != ids["a"] {
		t.Fatalf("Forget(alice) = %+v, %v; want the link of a, %s", links, err, ids["a"])
	}
}
