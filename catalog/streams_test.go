package catalog_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

func mustStream(t testing.TB, e *env, n catalog.NewStream) (*catalog.Stream, string) {
	t.Helper()
	st, secret, err := e.streams.Create(n)
	if err != nil {
		t.Fatal(err)
	}
	return st, secret
}

func streamNames(sts []*catalog.Stream) []string {
	var out []string
	for _, st := range sts {
		out = append(out, st.Name)
	}
	return out
}

func derivedFrom(source string, typ engine.ConsentType, levels ...int32) catalog.NewStream {
	return catalog.NewStream{DerivedFrom: source, View: engine.View{Type: typ, Levels: levels}}
}

func TestValidateName(t *testing.T) {
	valid := []string{"a", "demo", "Demo.v2_test-1", "0", "...", "-", strings.Repeat("x", 100)}
	for _, name := range valid {
		if err := catalog.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q): %v", name, err)
		}
	}
	invalid := []string{"", "a b", "a/b", "a,b", "a:b", "démo", "a\n", "\na", strings.Repeat("x", 101)}
	for _, name := range invalid {
		err := catalog.ValidateName(name)
		wantErr(t, err, catalog.ErrInvalid, `invalid stream name "`+strings.ReplaceAll(name, "\n", `\n`)+`": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`)
	}
}

var secretRE = regexp.MustCompile(`^[A-Z2-7]{52}$`)

func TestCreateStream(t *testing.T) {
	long := strings.Repeat("s", 98) // with "-1", the longest name allowed
	tests := []struct {
		name string
		n    catalog.NewStream
		// want is the stream created, ID 4, without credentials, creation
		// time and, when the caller gave none, mask seed.
		want *catalog.Stream
		kind error
		err  string
	}{
		{name: "source", n: catalog.NewStream{Name: "clicks"},
			want: &catalog.Stream{Name: "clicks"}},
		{name: "source with description and tags", n: catalog.NewStream{Name: "clicks", Description: "web clicks, all sites", Tags: []string{"web", "a b"}},
			want: &catalog.Stream{Name: "clicks", Description: "web clicks, all sites", Tags: []string{"web", "a b"}}},
		{name: "source of the longest name", n: catalog.NewStream{Name: strings.Repeat("n", 100)},
			want: &catalog.Stream{Name: strings.Repeat("n", 100)}},
		// A view without derivedFrom is ignored: the stream is a source.
		{name: "source with a view", n: catalog.NewStream{Name: "clicks", View: engine.View{Type: engine.Granular, Levels: []int32{1}, Seed: "s"}},
			want: &catalog.Stream{Name: "clicks"}},
		{name: "derived, default name and type", n: derivedFrom("demo", 0, 2),
			want: &catalog.Stream{Name: "demo-2", DerivedFrom: "demo", ConsentType: "CUMULATIVE", Levels: []int32{2}}},
		{name: "derived cumulative", n: derivedFrom("demo", engine.Cumulative, 0),
			want: &catalog.Stream{Name: "demo-0", DerivedFrom: "demo", ConsentType: "CUMULATIVE", Levels: []int32{0}}},
		{name: "derived granular, default name", n: derivedFrom("demo", engine.Granular, 0, 1),
			want: &catalog.Stream{Name: "demo-0-1", DerivedFrom: "demo", ConsentType: "GRANULAR", Levels: []int32{0, 1}}},
		{name: "derived granular, levels as given", n: derivedFrom("demo", engine.Granular, 3, 1, 2),
			want: &catalog.Stream{Name: "demo-3-1-2", DerivedFrom: "demo", ConsentType: "GRANULAR", Levels: []int32{3, 1, 2}}},
		{name: "derived, everything given",
			n: catalog.NewStream{Name: "masked", Description: "for analytics", Tags: []string{"bi"}, DerivedFrom: "demo", View: engine.View{
				Type: engine.Cumulative, Levels: []int32{1}, Seed: "pepper",
				Masked: map[string][]string{"streammachine/example/1.3.0": {"someSensitiveValue", "uniqueIdentifier"}},
			}},
			want: &catalog.Stream{Name: "masked", Description: "for analytics", Tags: []string{"bi"}, DerivedFrom: "demo", ConsentType: "CUMULATIVE",
				Levels: []int32{1}, MaskSeed: "pepper", Masked: map[string][]string{"streammachine/example/1.3.0": {"someSensitiveValue", "uniqueIdentifier"}}}},
		// Masked paths are checked against contracts by the caller, not here.
		{name: "derived, masked field of a contract nobody registered",
			n: catalog.NewStream{DerivedFrom: "demo", View: engine.View{Levels: []int32{1}, Masked: map[string][]string{"acme/none/1.0.0": {"x"}}, Seed: "s"}},
			want: &catalog.Stream{Name: "demo-1", DerivedFrom: "demo", ConsentType: "CUMULATIVE", Levels: []int32{1},
				MaskSeed: "s", Masked: map[string][]string{"acme/none/1.0.0": {"x"}}}},
		{name: "derived from a source of a long name", n: derivedFrom(long, 0, 1),
			want: &catalog.Stream{Name: long + "-1", DerivedFrom: long, ConsentType: "CUMULATIVE", Levels: []int32{1}}},

		{name: "no name", n: catalog.NewStream{}, kind: catalog.ErrInvalid,
			err: `invalid stream name "": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{name: "invalid name", n: catalog.NewStream{Name: "my stream"}, kind: catalog.ErrInvalid,
			err: `invalid stream name "my stream": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{name: "name too long", n: catalog.NewStream{Name: strings.Repeat("n", 101)}, kind: catalog.ErrInvalid,
			err: `invalid stream name "` + strings.Repeat("n", 101) + `": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{name: "invalid derived name", n: catalog.NewStream{Name: "demo/2", DerivedFrom: "demo", View: engine.View{Levels: []int32{2}}}, kind: catalog.ErrInvalid,
			err: `invalid stream name "demo/2": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		// The default name of a derived stream obeys the rule too.
		{name: "default derived name too long", n: derivedFrom(long, engine.Granular, 1, 2), kind: catalog.ErrInvalid,
			err: `invalid stream name "` + long + `-1-2": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{name: "duplicate name", n: catalog.NewStream{Name: "demo"}, kind: catalog.ErrExists,
			err: `stream "demo" already exists`},
		{name: "duplicate derived name", n: catalog.NewStream{Name: "demo-view", DerivedFrom: "demo", View: engine.View{Levels: []int32{1}}}, kind: catalog.ErrExists,
			err: `stream "demo-view" already exists`},
		{name: "duplicate of another kind", n: catalog.NewStream{Name: "demo-view"}, kind: catalog.ErrExists,
			err: `stream "demo-view" already exists`},
		{name: "names are case-sensitive", n: catalog.NewStream{Name: "DEMO"},
			want: &catalog.Stream{Name: "DEMO"}},
		{name: "empty tag", n: catalog.NewStream{Name: "clicks", Tags: []string{"web", ""}}, kind: catalog.ErrInvalid,
			err: `invalid tag "": tags must be non-empty and hold no comma or newline`},
		{name: "tag with a comma", n: catalog.NewStream{Name: "clicks", Tags: []string{"a,b"}}, kind: catalog.ErrInvalid,
			err: `invalid tag "a,b": tags must be non-empty and hold no comma or newline`},
		{name: "tag with a newline", n: catalog.NewStream{Name: "clicks", Tags: []string{"a\nb"}}, kind: catalog.ErrInvalid,
			err: `invalid tag "a\nb": tags must be non-empty and hold no comma or newline`},
		{name: "source missing", n: derivedFrom("nope", 0, 1), kind: catalog.ErrNotFound,
			err: `derivedFrom: source stream "nope" not found`},
		{name: "derived from a derived stream", n: derivedFrom("demo-view", 0, 1), kind: catalog.ErrInvalid,
			err: `derivedFrom: "demo-view" is itself derived from "demo"; derive from the source stream "demo" instead`},
		{name: "no levels", n: derivedFrom("demo", engine.Cumulative), kind: engine.ErrInvalidView,
			err: "levels: at least one consent level is required"},
		{name: "cumulative with two levels", n: derivedFrom("demo", 0, 1, 2), kind: engine.ErrInvalidView,
			err: "levels: a CUMULATIVE stream takes exactly one level (got 1,2); use --consent-type granular for a set of levels"},
		{name: "negative level", n: derivedFrom("demo", engine.Granular, 1, -1), kind: engine.ErrInvalidView,
			err: "levels: -1 is not a valid consent level (must be >= 0)"},
		{name: "level twice", n: derivedFrom("demo", engine.Granular, 1, 2, 1), kind: engine.ErrInvalidView,
			err: "levels: 1 is listed more than once"},
		{name: "unknown consent type", n: derivedFrom("demo", 3, 1), kind: engine.ErrInvalidView,
			err: "type: unknown consent type 3 (want CUMULATIVE or GRANULAR)"},
		// The view is checked before the source is looked up.
		{name: "no levels, source missing", n: derivedFrom("nope", engine.Granular), kind: engine.ErrInvalidView,
			err: "levels: at least one consent level is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustStream(t, e, catalog.NewStream{Name: "demo"})                                                                  // 1
			mustStream(t, e, catalog.NewStream{Name: "demo-view", DerivedFrom: "demo", View: engine.View{Levels: []int32{1}}}) // 2
			mustStream(t, e, catalog.NewStream{Name: long})                                                                    // 3
			e.clock.Advance(time.Minute)
			before := streamNames(e.streams.List())

			st, secret, err := e.streams.Create(tt.n)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
				if st != nil || secret != "" {
					t.Errorf("refused stream returned %v, secret %q", st, secret)
				}
				if got := streamNames(e.streams.List()); !slices.Equal(got, before) {
					t.Errorf("streams after a refusal: %q, want %q", got, before)
				}
				// A refusal uses up no stream ID.
				e.reopen(t)
				if got := streamNames(e.streams.List()); !slices.Equal(got, before) {
					t.Errorf("streams after a refusal and a reopen: %q, want %q", got, before)
				}
				if next, _ := mustStream(t, e, catalog.NewStream{Name: "next"}); next.ID != 4 {
					t.Errorf("next stream has ID %d, want 4", next.ID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !secretRE.MatchString(secret) {
				t.Errorf("secret %q is not 52 characters of base32", secret)
			}
			if sum := sha256.Sum256([]byte(secret)); !bytes.Equal(st.SecretHash, sum[:]) {
				t.Errorf("secret hash %x, want the SHA-256 of the secret %x", st.SecretHash, sum)
			}
			if u, err := uuid.Parse(st.ClientID); err != nil || u.Version() != 4 || u.String() != st.ClientID {
				t.Errorf("client id %q is not a random UUID: %v", st.ClientID, err)
			}
			if u, err := uuid.Parse(st.UUID); err != nil || u.Version() != 4 || st.UUID == st.ClientID {
				t.Errorf("stream uuid %q is not a random UUID of its own: %v", st.UUID, err)
			}
			if !st.CreateTime.Equal(t0.Add(time.Minute)) || st.CreateTime.Location() != time.UTC {
				t.Errorf("created %s, want %s", st.CreateTime, t0.Add(time.Minute).UTC())
			}
			if st.IsDerived() != (tt.want.DerivedFrom != "") {
				t.Errorf("IsDerived %v", st.IsDerived())
			}
			if st.IsDerived() && tt.n.View.Seed == "" && !regexp.MustCompile(`^[A-Z2-7]{26}$`).MatchString(st.MaskSeed) {
				t.Errorf("random mask seed %q is not 26 characters of base32", st.MaskSeed)
			}
			want := *tt.want
			want.ID, want.UUID, want.ClientID, want.SecretHash, want.CreateTime = 4, st.UUID, st.ClientID, st.SecretHash, st.CreateTime
			if tt.n.View.Seed == "" {
				want.MaskSeed = st.MaskSeed
			}
			if !reflect.DeepEqual(st, &want) {
				t.Errorf("created\n %+v\nwant\n %+v", st, &want)
			}
			if st.IsDerived() {
				wantView := engine.View{Type: engine.Cumulative, Levels: want.Levels, Masked: want.Masked, Seed: st.MaskSeed}
				if want.ConsentType == "GRANULAR" {
					wantView.Type = engine.Granular
				}
				if got := st.View(); !reflect.DeepEqual(got, wantView) {
					t.Errorf("view %+v, want %+v", got, wantView)
				}
			}
			// The caller's slices are copied.
			if len(tt.n.Tags) > 0 {
				tt.n.Tags[0] = "changed"
				if st.Tags[0] == "changed" {
					t.Error("the stream shares the caller's tags")
				}
			}
			for range 2 {
				got, err := e.streams.Get(want.Name)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, &want) {
					t.Errorf("Get\n %+v\nwant\n %+v", got, &want)
				}
				e.reopen(t)
			}
		})
	}
}

// TestStreamSecret checks that the client secret is returned once and stored
// nowhere: not in the stream, not in the database.
func TestStreamSecret(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	var secrets []string
	for _, n := range []catalog.NewStream{{Name: "a"}, {Name: "b"}, derivedFrom("a", 0, 1)} {
		st, secret := mustStream(t, e, n)
		if seen[secret] || seen[st.ClientID] {
			t.Errorf("stream %s: secret or client id repeated", st.Name)
		}
		seen[secret], seen[st.ClientID] = true, true
		secrets = append(secrets, secret)
	}
	e.reopen(t)
	it, err := e.store.DB.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
		for _, s := range secrets {
			if bytes.Contains(it.Key(), []byte(s)) || bytes.Contains(it.Value(), []byte(s)) {
				t.Errorf("key %q holds a client secret", it.Key())
			}
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("only %d keys in the database", n)
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	demo, demoSecret := mustStream(t, e, catalog.NewStream{Name: "demo"})
	view, viewSecret := mustStream(t, e, derivedFrom("demo", 0, 2))
	const bad = "invalid client credentials"
	tests := []struct {
		name             string
		clientID, secret string
		want             string // stream name; empty for ErrUnauthenticated
	}{
		{name: "source", clientID: demo.ClientID, secret: demoSecret, want: "demo"},
		{name: "derived", clientID: view.ClientID, secret: viewSecret, want: "demo-2"},
		{name: "wrong secret", clientID: demo.ClientID, secret: "wrong"},
		{name: "secret of another stream", clientID: demo.ClientID, secret: viewSecret},
		{name: "secret in lower case", clientID: demo.ClientID, secret: strings.ToLower(demoSecret)},
		{name: "secret cut short", clientID: demo.ClientID, secret: demoSecret[:51]},
		{name: "no secret", clientID: demo.ClientID},
		{name: "the stored hash as secret", clientID: demo.ClientID, secret: string(demo.SecretHash)},
		{name: "unknown client id", clientID: uuid.NewString(), secret: demoSecret},
		{name: "stream name as client id", clientID: "demo", secret: demoSecret},
		{name: "client id in upper case", clientID: strings.ToUpper(demo.ClientID), secret: demoSecret},
		{name: "nothing"},
	}
	for i := range 2 {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st, err := e.streams.Authenticate(tt.clientID, tt.secret)
				if tt.want == "" {
					// One message for every failure: it tells a guesser nothing.
					wantErr(t, err, catalog.ErrUnauthenticated, bad)
					if st != nil {
						t.Errorf("got %v", st)
					}
					return
				}
				if err != nil {
					t.Fatalf("reopened %d times: %v", i, err)
				}
				if st.Name != tt.want || st.ClientID != tt.clientID {
					t.Errorf("got stream %s (%s), want %s", st.Name, st.ClientID, tt.want)
				}
			})
		}
		e.reopen(t)
	}
}

func TestByClientID(t *testing.T) {
	e := newEnv(t)
	demo, _ := mustStream(t, e, catalog.NewStream{Name: "demo"})
	view, _ := mustStream(t, e, derivedFrom("demo", 0, 2))
	unknown := uuid.NewString()
	for i := range 2 {
		for _, want := range []*catalog.Stream{demo, view} {
			st, err := e.streams.ByClientID(want.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st, want) {
				t.Errorf("reopened %d times: got %+v, want %+v", i, st, want)
			}
		}
		for _, id := range []string{unknown, "", "demo"} {
			st, err := e.streams.ByClientID(id)
			wantErr(t, err, catalog.ErrUnauthenticated, `no stream has client id "`+id+`" (deleted?): get new credentials`)
			if st != nil {
				t.Errorf("got %v", st)
			}
		}
		e.reopen(t)
	}
}

func TestGetListDerived(t *testing.T) {
	e := newEnv(t)
	if got := e.streams.List(); got == nil || len(got) != 0 {
		t.Errorf("List of none: %#v, want empty", got)
	}
	// Created out of order: List sorts by name, bytewise.
	for _, n := range []catalog.NewStream{
		{Name: "zeta"}, {Name: "alpha"}, {Name: "demo"}, derivedFrom("demo", engine.Cumulative, 2),
		derivedFrom("demo", engine.Granular, 0, 1), {Name: "Beta"}, derivedFrom("zeta", 0, 0), {Name: "demo.2"},
	} {
		mustStream(t, e, n)
	}
	wantNames := []string{"Beta", "alpha", "demo", "demo-0-1", "demo-2", "demo.2", "zeta", "zeta-0"}
	wantIDs := []log.StreamID{6, 2, 3, 5, 4, 8, 1, 7}
	for i := range 2 {
		all := e.streams.List()
		if got := streamNames(all); !slices.Equal(got, wantNames) {
			t.Errorf("reopened %d times: List %q, want %q", i, got, wantNames)
		}
		for j, st := range all {
			if st.ID != wantIDs[j] {
				t.Errorf("stream %s has ID %d, want %d", st.Name, st.ID, wantIDs[j])
			}
			got, err := e.streams.Get(st.Name)
			if err != nil || got != st {
				t.Errorf("Get(%q) = %p, %v; List has %p", st.Name, got, err, st)
			}
		}
		derived := map[string][]string{
			"demo": {"demo-0-1", "demo-2"}, "zeta": {"zeta-0"},
			"alpha": nil, "demo-2": nil, "nope": nil,
		}
		for source, want := range derived {
			if got := e.streams.Derived(source); !slices.Equal(got, want) {
				t.Errorf("Derived(%q) = %q, want %q", source, got, want)
			}
		}
		for _, name := range []string{"nope", "", "DEMO", "demo-1"} {
			st, err := e.streams.Get(name)
			wantErr(t, err, catalog.ErrNotFound, `stream "`+name+`" not found`)
			if st != nil {
				t.Errorf("got %v", st)
			}
		}
		e.reopen(t)
	}
}

// dropper is a drop callback for Streams.Delete that does what log.Log.Drop
// does for the catalogue: it applies also to its own batch and commits it.
type dropper struct {
	db    *pebble.DB
	calls []log.StreamID
	// ops is the number of operations also added to the batch of each call.
	ops []uint32
	// fail, when set, is returned after also was applied, without committing.
	fail error
}

func (d *dropper) drop(id log.StreamID, also func(store.Batch) error) error {
	d.calls = append(d.calls, id)
	b := d.db.NewBatch()
	defer b.Close()
	if err := also(store.PebbleBatch(b)); err != nil {
		return err
	}
	d.ops = append(d.ops, b.Count())
	if d.fail != nil {
		return d.fail
	}
	return b.Commit(pebble.Sync)
}

func TestDeleteStream(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name      string
		stream    string
		recursive bool
		fail      error // returned by drop

		deleted []string
		drops   []log.StreamID // the IDs drop was called with
		ops     []uint32       // catalogue deletes drop was asked to apply, per call
		kind    error
		err     string
	}{
		{name: "source with derived", stream: "demo", kind: catalog.ErrState,
			err: `stream "demo" has derived streams (demo-1, demo-2); delete them first, or delete recursively (--recursive)`},
		{name: "source with derived, recursively", stream: "demo", recursive: true,
			deleted: []string{"demo-1", "demo-2", "demo"}, drops: []log.StreamID{1}, ops: []uint32{3}},
		{name: "source without derived", stream: "other",
			deleted: []string{"other"}, drops: []log.StreamID{4}, ops: []uint32{1}},
		{name: "source without derived, recursively", stream: "other", recursive: true,
			deleted: []string{"other"}, drops: []log.StreamID{4}, ops: []uint32{1}},
		// A derived stream has no data of its own: drop is not called.
		{name: "derived", stream: "demo-2", deleted: []string{"demo-2"}},
		{name: "derived, recursively", stream: "demo-1", recursive: true, deleted: []string{"demo-1"}},
		{name: "missing", stream: "nope", kind: catalog.ErrNotFound, err: `stream "nope" not found`},
		{name: "missing, recursively", stream: "nope", recursive: true, kind: catalog.ErrNotFound, err: `stream "nope" not found`},
		{name: "drop fails", stream: "other", fail: errDisk, kind: errDisk,
			err: `catalog: delete stream "other": disk on fire`, drops: []log.StreamID{4}, ops: []uint32{1}},
		{name: "drop fails, recursively", stream: "demo", recursive: true, fail: errDisk, kind: errDisk,
			err: `catalog: delete stream "demo": disk on fire`, drops: []log.StreamID{1}, ops: []uint32{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			creds := map[string][2]string{} // name to client id and secret
			for _, n := range []catalog.NewStream{
				{Name: "demo"}, derivedFrom("demo", 0, 1), derivedFrom("demo", 0, 2), {Name: "other"},
			} {
				st, secret := mustStream(t, e, n)
				creds[st.Name] = [2]string{st.ClientID, secret}
			}
			all := []string{"demo", "demo-1", "demo-2", "other"}
			d := &dropper{db: e.store.DB, fail: tt.fail}
			deleted, err := e.streams.Delete(tt.stream, tt.recursive, d.drop)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(deleted, tt.deleted) {
				t.Errorf("deleted %q, want %q", deleted, tt.deleted)
			}
			if !slices.Equal(d.calls, tt.drops) || !slices.Equal(d.ops, tt.ops) {
				t.Errorf("drop called for %v applying %v, want %v applying %v", d.calls, d.ops, tt.drops, tt.ops)
			}
			remain := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(tt.deleted, n) })
			for i := range 2 {
				if got := streamNames(e.streams.List()); !slices.Equal(got, remain) {
					t.Errorf("reopened %d times: streams %q, want %q", i, got, remain)
				}
				for _, name := range all {
					_, getErr := e.streams.Get(name)
					_, authErr := e.streams.Authenticate(creds[name][0], creds[name][1])
					_, byIDErr := e.streams.ByClientID(creds[name][0])
					if gone := slices.Contains(tt.deleted, name); gone {
						wantErr(t, getErr, catalog.ErrNotFound, `stream "`+name+`" not found`)
						wantErr(t, authErr, catalog.ErrUnauthenticated, "invalid client credentials")
						wantErr(t, byIDErr, catalog.ErrUnauthenticated, `no stream has client id "`+creds[name][0]+`" (deleted?): get new credentials`)
					} else if getErr != nil || authErr != nil || byIDErr != nil {
						t.Errorf("stream %s: %v; %v; %v", name, getErr, authErr, byIDErr)
					}
				}
				e.reopen(t)
			}
		})
	}
}

// TestDeleteThenRecreate deletes streams and creates them again under the
// same names: they get new IDs and new credentials, and the old credentials
// stay dead.
func TestDeleteThenRecreate(t *testing.T) {
	e := newEnv(t)
	noDrop := func(log.StreamID, func(store.Batch) error) error {
		t.Fatal("drop called")
		return nil
	}
	a, _ := mustStream(t, e, catalog.NewStream{Name: "a"})
	b, _ := mustStream(t, e, catalog.NewStream{Name: "b"})
	c, cSecret := mustStream(t, e, derivedFrom("b", 0, 1))
	if a.ID != 1 || b.ID != 2 || c.ID != 3 {
		t.Fatalf("IDs %d %d %d, want 1 2 3", a.ID, b.ID, c.ID)
	}
	// The highest ID goes: it is not handed out again.
	if _, err := e.streams.Delete("b-1", false, noDrop); err != nil {
		t.Fatal(err)
	}
	c2, _ := mustStream(t, e, derivedFrom("b", 0, 1))
	if c2.ID != 4 {
		t.Errorf("recreated b-1 has ID %d, want 4", c2.ID)
	}
	if c2.ClientID == c.ClientID {
		t.Error("recreated b-1 has the old client id")
	}
	if _, err := e.streams.Authenticate(c.ClientID, cSecret); !errors.Is(err, catalog.ErrUnauthenticated) {
		t.Errorf("old credentials of b-1: %v", err)
	}
	e.reopen(t)
	d := &dropper{db: e.store.DB}
	if _, err := e.streams.Delete("b", true, d.drop); err != nil {
		t.Fatal(err)
	}
	if _, err := e.streams.Delete("a", false, d.drop); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.calls, []log.StreamID{2, 1}) {
		t.Errorf("dropped %v, want [2 1]", d.calls)
	}
	e.reopen(t)
	if got := e.streams.List(); len(got) != 0 {
		t.Fatalf("streams left: %q", streamNames(got))
	}
	for i, name := range []string{"b", "a", "c"} {
		st, _ := mustStream(t, e, catalog.NewStream{Name: name})
		if want := log.StreamID(5 + i); st.ID != want {
			t.Errorf("stream %s has ID %d, want %d", name, st.ID, want)
		}
	}
	e.reopen(t)
	if st, _ := mustStream(t, e, catalog.NewStream{Name: "d"}); st.ID != 8 {
		t.Errorf("stream d has ID %d, want 8", st.ID)
	}
}

func TestStreamsPersistence(t *testing.T) {
	e := newEnv(t)
	creds := map[string]string{}
	for _, n := range []catalog.NewStream{
		{Name: "demo", Description: "the demo", Tags: []string{"a", "b c"}},
		{Name: "masked", DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{3},
			Masked: map[string][]string{"streammachine/example/1.3.0": {"someSensitiveValue"}}, Seed: "pepper"}},
		derivedFrom("demo", engine.Granular, 2, 0),
		{Name: "other"},
	} {
		st, secret := mustStream(t, e, n)
		creds[st.Name] = secret
		e.clock.Advance(1500 * time.Millisecond)
	}
	want := e.streams.List()
	for range 2 {
		e.reopen(t)
		got := e.streams.List()
		if !reflect.DeepEqual(got, want) {
			for i := range max(len(got), len(want)) {
				if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("stream %d after reopen:\n got %+v\nwant %+v", i, at(got, i), at(want, i))
				}
			}
		}
		if d := e.streams.Derived("demo"); !slices.Equal(d, []string{"demo-2-0", "masked"}) {
			t.Errorf("Derived: %q", d)
		}
		for _, st := range want {
			if got, err := e.streams.Authenticate(st.ClientID, creds[st.Name]); err != nil || got.Name != st.Name {
				t.Errorf("Authenticate %s: %v, %v", st.Name, got, err)
			}
		}
	}
	if st, _ := mustStream(t, e, catalog.NewStream{Name: "new"}); st.ID != 5 {
		t.Errorf("new stream has ID %d, want 5", st.ID)
	}
}

func at(sts []*catalog.Stream, i int) *catalog.Stream {
	if i < len(sts) {
		return sts[i]
	}
	return nil
}
