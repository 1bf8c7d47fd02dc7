package keys

import (
	"bytes"
	"encoding/binary"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// HashKeyOf exposes the hash key to tests that look for it on disk.
func HashKeyOf(ks *Keys) []byte { return ks.hashKey }

// AppendsEntry is one appends entry of the event index (events.go), as
// stored: the offset it is keyed by and its value.
type AppendsEntry struct {
	First uint64
	Value []byte
}

// AppendsEntries returns the appends entries of stream stored in Pebble,
// by offset, so that tests count them and read their bytes.
func AppendsEntries(ks *Keys, stream log.StreamID) ([]AppendsEntry, error) {
	var out []AppendsEntry
	err := store.ScanPrefix(ks.db, appendsPrefix(stream), func(k, v []byte) error {
		out = append(out, AppendsEntry{First: binary.BigEndian.Uint64(k[len(k)-8:]), Value: bytes.Clone(v)})
		return nil
	})
	return out, err
}
