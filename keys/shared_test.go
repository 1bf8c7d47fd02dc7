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

// Two gateways (two Keys with Options.Shared on one state) that see a new
// session at once use one key link: the state decides, and the loser
// reads the winner's link. A link one of them shreds is dropped from the
// other's cache by SeeShreds.
func TestSharedGateways(t *testing.T) {
	db := openDB(t, location{fs: vfs.NewMem(), dir: "data"})
	defer db.Close()
	kv := store.PebbleKV(db)
	clk, master := newClock(), newMaster(t)
	open := func() *keys.Keys {
		ks, err := keys.Open(kv, keys.Options{Now: clk.Now, Master: master, Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		return ks
	}
	gw := []*keys.Keys{open(), open()}

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
