package store_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/store/kvtest"
)

// TestPebbleKV holds the embedded mode's KV to the conformance suite that
// the PostgreSQL state (internal/store/pgkv) passes too.
func TestPebbleKV(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) store.KV {
		db, err := pebble.Open("data", &pebble.Options{FS: vfs.NewMem(), Logger: kvQuietLogger{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		})
		return store.PebbleKV(db)
	})
}

// kvQuietLogger drops Pebble's messages; Fatalf still stops the test binary.
type kvQuietLogger struct{}

func (kvQuietLogger) Infof(string, ...any)              {}
func (kvQuietLogger) Errorf(string, ...any)             {}
func (kvQuietLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
