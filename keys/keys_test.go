package keys_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

func streamID(n uint64) log.StreamID { return log.StreamID(n) }

func TestOpenValidatesOptions(t *testing.T) {
	db := openDB(t, location{fs: vfs.NewMem(), dir: "data"})
	defer db.Close()
	tests := []struct {
		name string
		opts keys.Options
		want string
	}{
		{"no master", keys.Options{}, "keys: Options.Master is required"},
		{"all wrong", keys.Options{Rotation: -time.Hour, Retention: -time.Second},
			"keys: Options.Master is required\n" +
				"keys: Options.Rotation must not be negative (got -1h0m0s)\n" +
				"keys: Options.Retention must not be negative (got -1s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.Open(store.PebbleKV(db), tc.opts)
			if got := errString(err); got != tc.want {
				t.Fatalf("Open: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpenDefaults(t *testing.T) {
	db := openDB(t, location{fs: vfs.NewMem(), dir: "data"})
	defer db.Close()
	ks, err := keys.Open(store.PebbleKV(db), keys.Options{Master: newMaster(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	k, err := ks.For(1, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.RotatesAt.Sub(k.Created), 24*time.Hour; got != want {
		t.Errorf("rotation = %s, want %s", got, want)
	}
	if got, want := k.ExpiresAt.Sub(k.RotatesAt), 7*24*time.Hour; got != want {
		t.Errorf("retention = %s, want %s", got, want)
	}
	if d := time.Since(k.Created); d < 0 || d > time.Minute {
		t.Errorf("Created = %s, want about now", k.Created)
	}
}

func TestEncrypt(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	a := e.mustFor(1, "session-a", "")
	tests := []struct {
		name       string
		stream     uint64
		value      string
		path, text string
		sameLink   bool
		sameCipher bool
	}{
		{"same value, path and text", 1, "session-a", "email", "x@example.com", true, true},
		{"other path", 1, "session-a", "name", "x@example.com", true, false},
		{"other text", 1, "session-a", "email", "y@example.com", true, false},
		{"other value", 1, "session-b", "email", "x@example.com", false, false},
		{"same value, other stream", 2, "session-a", "email", "x@example.com", false, false},
	}
	want := a.Encrypt("email", "x@example.com")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := e.mustFor(tc.stream, tc.value, "")
			if got := k == a; got != tc.sameLink {
				t.Errorf("same *Key = %v, want %v", got, tc.sameLink)
			}
			if got := k.ID == a.ID; got != tc.sameLink {
				t.Errorf("same link = %v, want %v", got, tc.sameLink)
			}
			ct := k.Encrypt(tc.path, tc.text)
			if got := ct == want; got != tc.sameCipher {
				t.Errorf("same ciphertext = %v, want %v", got, tc.sameCipher)
			}
			pt, err := k.Decrypt(tc.path, ct)
			if err != nil || pt != tc.text {
				t.Errorf("Decrypt = %q, %v; want %q", pt, err, tc.text)
			}
		})
	}
}

// A Key remembers its last few encryptions; what it answers from memory
// must be what Tink gives, whatever the order and however many values.
func TestEncryptRemembers(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "session-a", "")
	long := strings.Repeat("x", 129) // longer than a Key remembers
	inputs := [][2]string{{"email", "a"}, {"name", "a"}, {"email", "b"}, {"email", long}, {"id", "c"}, {"id", "d"}, {"id", "e"}}
	first := map[[2]string]string{}
	for round := range 3 {
		for i, in := range inputs {
			// Other orders each round, so hits, misses and evictions mix.
			in = inputs[(i*(round+1))%len(inputs)]
			ct := k.Encrypt(in[0], in[1])
			if prev, ok := first[in]; ok && prev != ct {
				t.Fatalf("round %d, %v: %q, before %q", round, in, ct, prev)
			}
			first[in] = ct
			if pt, err := k.Decrypt(in[0], ct); err != nil || pt != in[1] {
				t.Fatalf("%v: decrypts to %q, %v", in, pt, err)
			}
		}
	}
	if len(first) != len(inputs) {
		t.Fatalf("%d inputs seen", len(first))
	}
}

func TestCiphertextFormat(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "s", "")
	raw, err := base64.StdEncoding.DecodeString(k.Encrypt("f", "twenty-byte-value!!!"))
	if err != nil {
		t.Fatal(err)
	}
	// 0x01 ‖ 4-byte key ID ‖ 16-byte SIV ‖ ciphertext as long as the text.
	if raw[0] != 0x01 || len(raw) != 1+4+16+20 {
		t.Fatalf("ciphertext = %x (%d bytes), want 0x01 prefix and %d bytes", raw, len(raw), 1+4+16+20)
	}
}

func TestDecryptErrors(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "session-a", "")
	other := e.mustFor(1, "session-b", "")
	ct := k.Encrypt("email", "x@example.com")
	raw, _ := base64.StdEncoding.DecodeString(ct)
	raw[len(raw)-1] ^= 1
	tampered := base64.StdEncoding.EncodeToString(raw)

	fails := fmt.Sprintf("keys: bad ciphertext: field %%q does not decrypt with key link %s", k.ID)
	tests := []struct {
		name, path, ct string
		key            *keys.Key
		want           string
	}{
		{"tampered", "email", tampered, k, fmt.Sprintf(fails, "email")},
		{"other path", "name", ct, k, fmt.Sprintf(fails, "name")},
		{"other key", "email", ct, other,
			fmt.Sprintf("keys: bad ciphertext: field \"email\" does not decrypt with key link %s", other.ID)},
		{"not base64", "email", "x@example.com", k, `keys: bad ciphertext: field "email" is not base64`},
		{"empty", "email", "", k, fmt.Sprintf(fails, "email")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.key.Decrypt(tc.path, tc.ct)
			if !errors.Is(err, keys.ErrCiphertext) || err.Error() != tc.want || pt != "" {
				t.Fatalf("Decrypt = %q, %q; want %q", pt, errString(err), tc.want)
			}
			if strings.Contains(err.Error(), "x@example.com") {
				t.Fatalf("error quotes the value: %v", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	first := e.mustFor(1, "s", "")
	ct := first.Encrypt("f", "v")
	want := keys.Link{ID: first.ID, Stream: 1, Created: t0, RotatesAt: t0.Add(24 * time.Hour), ExpiresAt: t0.Add(8 * 24 * time.Hour)}
	if first.Link != want {
		t.Fatalf("Link = %+v, want %+v", first.Link, want)
	}

	e.clock.Set(first.RotatesAt.Add(-time.Nanosecond))
	if k := e.mustFor(1, "s", ""); k.ID != first.ID {
		t.Fatalf("1ns before RotatesAt: link %s, want %s", k.ID, first.ID)
	}
	e.clock.Set(first.RotatesAt)
	second := e.mustFor(1, "s", "")
	if second.ID == first.ID {
		t.Fatal("at RotatesAt: same link, want a new one")
	}
	if second.Created != first.RotatesAt {
		t.Fatalf("second.Created = %s, want %s", second.Created, first.RotatesAt)
	}
	if second.Encrypt("f", "v") == ct {
		t.Fatal("new link encrypts like the old one")
	}
	if k := e.mustFor(1, "s", ""); k != second {
		t.Fatalf("after rotation: link %s, want %s", k.ID, second.ID)
	}

	// The old key decrypts until it is swept at ExpiresAt.
	if n, err := e.ks.Sweep(first.ExpiresAt.Add(-time.Nanosecond)); n != 0 || err != nil {
		t.Fatalf("Sweep before ExpiresAt = %d, %v; want 0", n, err)
	}
	old, err := e.ks.Get(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := old.Decrypt("f", ct); pt != "v" || err != nil {
		t.Fatalf("old Decrypt = %q, %v", pt, err)
	}
	e.check()
	if at, ok := e.ks.NextExpiry(); !ok || !at.Equal(first.ExpiresAt) {
		t.Fatalf("NextExpiry = %s, %v; want %s", at, ok, first.ExpiresAt)
	}
	if n, err := e.ks.Sweep(first.ExpiresAt); n != 1 || err != nil {
		t.Fatalf("Sweep at ExpiresAt = %d, %v; want 1", n, err)
	}
	if at, ok := e.ks.NextExpiry(); !ok || !at.Equal(second.ExpiresAt) {
		t.Fatalf("NextExpiry = %s, %v; want %s", at, ok, second.ExpiresAt)
	}
	k, err := e.ks.Get(first.ID)
	wantErr := fmt.Sprintf("keys: key shredded: key link %s was deleted at 2026-03-09T12:00:00Z (retention)", first.ID)
	if !errors.Is(err, keys.ErrShredded) || err.Error() != wantErr {
		t.Fatalf("Get = %q, want %q", errString(err), wantErr)
	}
	shredded := want
	shredded.Shredded, shredded.ShreddedAt = true, first.ExpiresAt
	if k.Link != shredded {
		t.Fatalf("Get Link = %+v, want %+v", k.Link, shredded)
	}
	if _, err := k.Decrypt("f", ct); !errors.Is(err, keys.ErrShredded) {
		t.Fatalf("Decrypt with a shredded Key: %v, want ErrShredded", err)
	}
	secondLink := second.Link
	if got := e.links(1); !slices.Equal(got, []keys.Link{shredded, secondLink}) {
		t.Fatalf("Links = %+v\nwant %+v", got, []keys.Link{shredded, secondLink})
	}
	if n, err := e.ks.Sweep(second.ExpiresAt); n != 1 || err != nil {
		t.Fatalf("second Sweep = %d, %v; want 1", n, err)
	}
	if at, ok := e.ks.NextExpiry(); ok {
		t.Fatalf("NextExpiry = %s, true; want none", at)
	}
}

// A link whose current period is swept (rotation longer ago than
// retention) is not handed out again: the next For makes a new one.
func TestSweepCurrentLink(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	first := e.mustFor(1, "s", "alice")
	if n, err := e.ks.Sweep(first.ExpiresAt); n != 1 || err != nil {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	e.check()
	e.clock.Set(first.ExpiresAt)
	if k := e.mustFor(1, "s", "alice"); k.ID == first.ID {
		t.Fatal("For returned a shredded link")
	}
	// alice's record of the swept link went with it.
	got, err := e.ks.Forget("alice")
	if err != nil || len(got) != 1 || got[0].ID == first.ID {
		t.Fatalf("Forget = %+v, %v; want only the new link", got, err)
	}
}

func TestForget(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	a1 := e.mustFor(1, "session-1", "alice")
	e.clock.Advance(time.Minute)
	a2 := e.mustFor(2, "session-2", "alice")
	b := e.mustFor(1, "session-3", "bob")
	// Seen again: recorded once, and the link stays.
	if k := e.mustFor(1, "session-1", "alice"); k != a1 {
		t.Fatal("second For for alice: another link")
	}
	ctB := b.Encrypt("f", "secret")

	e.clock.Advance(time.Hour)
	got, err := e.ks.Forget("alice")
	if err != nil {
		t.Fatal(err)
	}
	forgotten := func(l keys.Link) keys.Link {
		l.Shredded, l.Forgotten, l.ShreddedAt = true, true, t0.Add(time.Hour+time.Minute)
		return l
	}
	want := []keys.Link{forgotten(a1.Link), forgotten(a2.Link)}
	if !slices.Equal(got, want) {
		t.Fatalf("Forget = %+v\nwant %+v", got, want)
	}
	for _, l := range want {
		k, err := e.ks.Get(l.ID)
		wantErr := fmt.Sprintf("keys: key shredded: key link %s was deleted at 2026-03-01T13:01:00Z (data subject forgotten)", l.ID)
		if err == nil || err.Error() != wantErr || k.Link != l {
			t.Fatalf("Get(%s) = %+v, %q; want %q", l.ID, k, errString(err), wantErr)
		}
	}
	kb, err := e.ks.Get(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kb.Decrypt("f", ctB); pt != "secret" || err != nil {
		t.Fatalf("bob's Decrypt = %q, %v", pt, err)
	}
	if _, err := e.ks.Get(a1.ID); !errors.Is(err, keys.ErrShredded) {
		t.Fatalf("alice's key: %v", err)
	}

	// The forgotten session gets a fresh link.
	if k := e.mustFor(1, "session-1", ""); k.ID == a1.ID {
		t.Fatal("For after Forget returned the forgotten link")
	}
	for _, subject := range []string{"alice", "nobody", ""} {
		got, err := e.ks.Forget(subject)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Forget(%q) = %#v, %v; want empty", subject, got, err)
		}
	}
	e.check()
}

func TestGetErrors(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	tests := []struct{ id, want string }{
		{"not-a-uuid", "keys: key link not found: not a UUID"},
		{"7d444840-9dc0-11d1-b245-5ffdce74fad2", "keys: key link not found: 7d444840-9dc0-11d1-b245-5ffdce74fad2"},
	}
	for _, tc := range tests {
		k, err := e.ks.Get(tc.id)
		if k != nil || !errors.Is(err, keys.ErrNotFound) || err.Error() != tc.want {
			t.Errorf("Get(%q) = %v, %q; want %q", tc.id, k, errString(err), tc.want)
		}
	}
}

func TestPersistence(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		k1 := e.mustFor(1, "s1", "alice")
		k2 := e.mustFor(1, "s2", "bob")
		gone := e.mustFor(2, "s3", "carol")
		ct1, ct2 := k1.Encrypt("f", "one"), k2.Encrypt("f", "two")
		if _, err := e.ks.Forget("carol"); err != nil {
			t.Fatal(err)
		}
		before1, before2 := e.links(1), e.links(2)

		e.reopen()
		if k := e.mustFor(1, "s1", ""); k.Link != k1.Link || k.Encrypt("f", "one") != ct1 {
			t.Fatalf("after reopen: %+v, want %+v and the same ciphertext", k.Link, k1.Link)
		}
		k, err := e.ks.Get(k2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.Decrypt("f", ct2); pt != "two" || err != nil {
			t.Fatalf("Decrypt after reopen = %q, %v", pt, err)
		}
		if got := e.links(1); !slices.Equal(got, before1) {
			t.Fatalf("Links(1) after reopen = %+v, want %+v", got, before1)
		}
		if got := e.links(2); !slices.Equal(got, before2) || !got[0].Forgotten {
			t.Fatalf("Links(2) after reopen = %+v, want %+v", got, before2)
		}
		if _, err := e.ks.Get(gone.ID); !errors.Is(err, keys.ErrShredded) {
			t.Fatalf("forgotten key after reopen: %v", err)
		}
		// Subjects recorded before the reopen are found.
		got, err := e.ks.Forget("bob")
		if err != nil || len(got) != 1 || got[0].ID != k2.ID {
			t.Fatalf("Forget(bob) after reopen = %+v, %v", got, err)
		}
		e.reopen()
		if _, err := e.ks.Get(k2.ID); !errors.Is(err, keys.ErrShredded) {
			t.Fatalf("Forget did not persist: %v", err)
		}
		if k := e.mustFor(1, "s1", "alice"); k.ID != k1.ID {
			t.Fatal("current link lost on reopen")
		}
	})
}

func TestWrongMaster(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		e.mustFor(1, "s", "")
		e.close()

		db := openDB(t, loc)
		defer db.Close()
		_, err := keys.Open(store.PebbleKV(db), keys.Options{Master: newMaster(t)})
		want := "keys: master key: it does not open the keys stored in this data dir (wrong STRMLOCAL_MASTER_KEY or master.key?)"
		if !errors.Is(err, keys.ErrMaster) || err.Error() != want {
			t.Fatalf("Open = %q, want %q", errString(err), want)
		}
	})
}

// Keys writes only in its own key space.
func TestKeySpace(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	e.mustFor(1, "s1", "alice")
	e.mustFor(2, "s2", "bob")
	e.clock.Advance(48 * time.Hour)
	e.mustFor(1, "s1", "alice")
	if _, err := e.ks.Forget("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ks.Sweep(t0.Add(365 * 24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	it, err := e.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if it.Key()[0] != store.SpaceKeys {
			t.Errorf("key %x outside store.SpaceKeys", it.Key())
		}
		n++
	}
	if n == 0 {
		t.Fatal("nothing written")
	}
}

func TestDropStream(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		a := e.mustFor(1, "s1", "alice")
		e.clock.Advance(25 * time.Hour)
		a2 := e.mustFor(1, "s1", "alice")
		gone := e.mustFor(1, "s2", "bob")
		if _, err := e.ks.Forget("bob"); err != nil {
			t.Fatal(err)
		}
		keep := e.mustFor(2, "s1", "alice")

		b := e.db.NewBatch()
		if err := e.ks.DropStream(1)(store.PebbleBatch(b)); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if got, want := e.ks.Counts(), (keys.LinkCounts{Live: 3, Shredded: 1}); got != want {
			t.Fatalf("Counts before Recount = %+v, want %+v (as before the drop)", got, want)
		}
		if err := e.ks.Recount(); err != nil {
			t.Fatal(err)
		}
		if got, want := e.ks.Counts(), (keys.LinkCounts{Live: 1}); got != want {
			t.Fatalf("Counts after Recount = %+v, want %+v", got, want)
		}
		e.check()
		for _, id := range []string{a.ID, a2.ID, gone.ID} {
			if _, err := e.ks.Get(id); !errors.Is(err, keys.ErrNotFound) {
				t.Errorf("Get(%s) after drop: %v, want ErrNotFound", id, err)
			}
		}
		if got := e.links(1); len(got) != 0 {
			t.Fatalf("Links(1) after drop = %+v", got)
		}
		if got := e.links(2); !slices.Equal(got, []keys.Link{keep.Link}) {
			t.Fatalf("Links(2) after drop = %+v", got)
		}
		if at, ok := e.ks.NextExpiry(); !ok || !at.Equal(keep.ExpiresAt) {
			t.Fatalf("NextExpiry = %s, %v; want %s", at, ok, keep.ExpiresAt)
		}
		got, err := e.ks.Forget("alice")
		if err != nil || !slices.Equal(linkIDs(got), []string{keep.ID}) {
			t.Fatalf("Forget(alice) after drop = %+v, %v; want only %s", got, err, keep.ID)
		}
		e.reopen()
		if got := e.links(1); len(got) != 0 {
			t.Fatalf("Links(1) after reopen = %+v", got)
		}
	})
}

// A DropStream batch that is never committed leaves everything as it was.
func TestDropStreamNotCommitted(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "s", "alice")
	b := e.db.NewBatch()
	if err := e.ks.DropStream(1)(store.PebbleBatch(b)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := e.mustFor(1, "s", "alice"); got.ID != k.ID {
		t.Fatalf("For after an uncommitted drop: link %s, want %s", got.ID, k.ID)
	}
	if _, err := e.ks.Get(k.ID); err != nil {
		t.Fatal(err)
	}
}

func linkIDs(ls []keys.Link) []string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids
}

func TestLinksOrder(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	var want []keys.Link
	for i := range 5 {
		// Two links per instant: ordered by ID within it.
		a, b := e.mustFor(1, fmt.Sprint("a", i), ""), e.mustFor(1, fmt.Sprint("b", i), "")
		if b.ID < a.ID {
			a, b = b, a
		}
		want = append(want, a.Link, b.Link)
		e.clock.Advance(-time.Hour) // creation order is not time order
	}
	slices.SortFunc(want, func(x, y keys.Link) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	if got := e.links(1); !slices.Equal(got, want) {
		t.Fatalf("Links = %+v\nwant %+v", got, want)
	}
}

func TestConcurrentFor(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	const n, rounds = 32, 100
	for r := range rounds {
		value := fmt.Sprint("session-", r)
		got := make([]*keys.Key, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				k, err := e.ks.For(1, value, fmt.Sprint("subject-", i%4))
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = k
			})
		}
		close(start)
		wg.Wait()
		for i, k := range got {
			if k == nil || k.ID != got[0].ID {
				t.Fatalf("round %d: goroutine %d got another link", r, i)
			}
		}
	}
	if l := e.links(1); len(l) != rounds {
		t.Fatalf("%d links, want %d", len(l), rounds)
	}
	e.check()
	for i := range 4 {
		ls, err := e.ks.Forget(fmt.Sprint("subject-", i))
		if want := rounds * (1 - min(i, 1)); err != nil || len(ls) != want {
			t.Fatalf("Forget(subject-%d) = %d links, %v; want %d", i, len(ls), err, want)
		}
	}
}

// For, Get, Sweep, Forget and the clock race each other; Check then finds
// storage and caches consistent.
func TestConcurrentMix(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, err := e.ks.For(streamID(uint64(1+w%2)), fmt.Sprint("s", i%16), fmt.Sprint("p", i%5))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.ks.Get(k.ID); err != nil && !errors.Is(err, keys.ErrShredded) {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 100 {
		e.clock.Advance(3 * time.Hour)
		if _, err := e.ks.Sweep(e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ks.Forget(fmt.Sprint("p", i%5)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	e.check()
}

func TestClosed(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "s", "")
	if err := e.ks.Check(); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{}
	_, calls["For"] = e.ks.For(1, "s", "")
	_, calls["Get"] = e.ks.Get(k.ID)
	_, calls["Links"] = e.ks.Links(1)
	_, calls["Sweep"] = e.ks.Sweep(t0)
	_, calls["Forget"] = e.ks.Forget("x")
	_, calls["Export"] = e.ks.Export(1)
	calls["DropStream"] = e.ks.DropStream(1)(store.PebbleBatch(e.db.NewBatch()))
	calls["Recount"] = e.ks.Recount()
	for name, err := range calls {
		if !errors.Is(err, keys.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, ok := e.ks.NextExpiry(); ok {
		t.Error("NextExpiry after Close: true")
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.db = nil
}

// Counts follow For, Sweep and Forget, and survive a reopen.
func TestCounts(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	counts := func(want keys.LinkCounts) {
		t.Helper()
		if got := e.ks.Counts(); got != want {
			t.Fatalf("Counts = %+v, want %+v", got, want)
		}
	}
	counts(keys.LinkCounts{})
	first := e.mustFor(1, "s1", "alice")
	e.mustFor(1, "s1", "alice") // the same link
	e.mustFor(1, "s2", "bob")
	e.mustFor(2, "s1", "carol")
	counts(keys.LinkCounts{Live: 3})
	if _, err := e.ks.Forget("bob"); err != nil {
		t.Fatal(err)
	}
	counts(keys.LinkCounts{Live: 2, Shredded: 1})
	e.clock.Set(first.RotatesAt)
	e.mustFor(1, "s1", "alice") // rotated: a new link
	counts(keys.LinkCounts{Live: 3, Shredded: 1})
	if n, err := e.ks.Sweep(first.ExpiresAt); n != 2 || err != nil {
		t.Fatalf("Sweep = %d, %v; want 2", n, err)
	}
	counts(keys.LinkCounts{Live: 1, Shredded: 3})
	e.reopen()
	counts(keys.LinkCounts{Live: 1, Shredded: 3})
}

// TestShreddedReadsNoKey: Shredded says whether a link's key is gone (a
// forgotten subject's, an unknown link's, not a UUID), and reads a key
// that is not cached without loading it into the cache.
func TestShreddedReadsNoKey(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		alice := e.mustFor(1, "s1", "alice")
		bob := e.mustFor(1, "s2", "bob")
		if _, err := e.ks.Forget("alice"); err != nil {
			t.Fatal(err)
		}
		e.reopen()
		cached := e.ks.CachedBytes()
		for _, tc := range []struct {
			link string
			want bool
		}{
			{bob.ID, false},
			{alice.ID, true},
			{"00000000-0000-4000-8000-000000000000", true},
			{"not-a-link", true},
		} {
			if got, err := e.ks.Shredded(tc.link); got != tc.want || err != nil {
				t.Errorf("Shredded(%s) = %v, %v; want %v", tc.link, got, err, tc.want)
			}
		}
		if got := e.ks.CachedBytes(); got != cached {
			t.Errorf("the cache holds %d bytes after Shredded, %d before: it loaded a key", got, cached)
		}
		if _, err := e.ks.Get(bob.ID); err != nil { // cached now
			t.Fatal(err)
		}
		if got, err := e.ks.Shredded(bob.ID); got || err != nil {
			t.Errorf("Shredded(cached %s) = %v, %v; want false", bob.ID, got, err)
		}
		ks := e.ks
		e.close()
		if _, err := ks.Shredded(alice.ID); !errors.Is(err, keys.ErrClosed) {
			t.Errorf("Shredded after Close: %v, want ErrClosed", err)
		}
	})
}
