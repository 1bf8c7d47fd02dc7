package catalog_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
)

// t0 is the fake clock's start. It is not in UTC so that the tests see
// creation times converted to UTC.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*60*60))

// clock is a fake clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a catalogue (registry and streams) on a Pebble database in memory.
// reopen closes the database and opens it again on the same file system,
// so that a test can check what was persisted.
type env struct {
	fs      vfs.FS
	clock   *clock
	store   *store.Store
	reg     *catalog.Registry
	streams *catalog.Streams
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{fs: vfs.NewMem(), clock: &clock{now: t0}}
	e.open(t)
	t.Cleanup(func() {
		if e.store != nil {
			if err := e.store.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	return e
}

func (e *env) open(t testing.TB) {
	t.Helper()
	st, err := store.Open(store.Options{FS: e.fs, Dir: "x"})
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	if e.reg, err = catalog.OpenRegistry(st.KV, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	if e.streams, err = catalog.OpenStreams(st.KV, e.clock.Now); err != nil {
		t.Fatal(err)
	}
}

func (e *env) reopen(t testing.TB) {
	t.Helper()
	err := e.store.Close()
	e.store, e.reg, e.streams = nil, nil, nil
	if err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

var sentinels = []error{catalog.ErrInvalid, catalog.ErrNotFound, catalog.ErrExists, catalog.ErrState, catalog.ErrUnauthenticated}

// wantErr checks that err has exactly the message msg and matches kind. When
// kind is one of the package's sentinels, err must match no other of them.
func wantErr(t testing.TB, err, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", msg)
	}
	if err.Error() != msg {
		t.Errorf("error:\n got %q\nwant %q", err.Error(), msg)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
	if !slices.Contains(sentinels, kind) {
		return
	}
	for _, s := range sentinels {
		if s != kind && errors.Is(err, s) {
			t.Errorf("error %q matches %v besides %v", err, s, kind)
		}
	}
}

func mustRef(t testing.TB, s string) engine.Ref {
	t.Helper()
	r, err := engine.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tinyAvro is an Avro schema of the smallest shape the registry takes, plus
// a few fields for contracts to name.
const tinyAvro = `{"type": "record", "name": "Tiny", "fields": [
	{"name": "strmMeta", "type": {"type": "record", "name": "StrmMeta", "fields": [
		{"name": "eventContractRef", "type": "string"},
		{"name": "nonce", "type": ["null", "int"], "default": null},
		{"name": "timestamp", "type": ["null", "long"], "default": null},
		{"name": "keyLink", "type": ["null", "string"], "default": null},
		{"name": "billingId", "type": ["null", "string"], "default": null},
		{"name": "consentLevels", "type": {"type": "array", "items": "int"}}]}},
	{"name": "session", "type": "string"},
	{"name": "count", "type": "int"},
	{"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
		{"name": "email", "type": ["null", "string"], "default": null}]}}]}`

// tinyJSON is tinyAvro's JSON Schema counterpart.
const tinyJSON = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"required": ["strmMeta", "session"],
	"properties": {
		"strmMeta": {
			"type": "object",
			"required": ["eventContractRef", "consentLevels"],
			"properties": {
				"eventContractRef": {"type": "string"},
				"nonce": {"type": ["integer", "null"]},
				"timestamp": {"type": ["integer", "null"]},
				"keyLink": {"type": ["string", "null"]},
				"billingId": {"type": ["string", "null"]},
				"consentLevels": {"type": "array", "items": {"type": "integer"}}
			}
		},
		"session": {"type": "string"},
		"count": {"type": "integer"}
	}
}`
