package catalog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
)

// The scale-out mode's gateways on a virtual clock share its time: the
// latest time any of them advanced to, kept in the state (docs/scale-out.md).
const kindClock byte = 'T'

var clockKey = []byte{store.SpaceCatalog, kindClock}

// SharedClock returns the virtual time stored in kv, and false when none is.
func SharedClock(kv store.Reader) (time.Time, bool, error) {
	v, err := kv.Get(clockKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, err
	case len(v) != 8:
		return time.Time{}, false, fmt.Errorf("catalog: the shared clock's value is corrupt")
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), true, nil
}

// AdvanceSharedClock stores t as the shared virtual time unless a later one
// is stored, and returns the time stored after it: t, or the later one.
func AdvanceSharedClock(kv store.KV, t time.Time) (time.Time, error) {
	for range 8 {
		stored, ok, err := SharedClock(kv)
		if err != nil {
			return time.Time{}, err
		}
		if ok && !stored.Before(t) {
			return stored, nil
		}
		var old []byte
		if ok {
			old = binary.BigEndian.AppendUint64(nil, uint64(stored.UnixNano()))
		}
		b := kv.NewBatch()
		b.Expect(clockKey, old)
		b.Set(clockKey, binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
		err = b.Commit(true)
		b.Close()
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return time.Time{}, fmt.Errorf("catalog: store the shared clock: %w", err)
		}
	}
	return time.Time{}, errors.New("catalog: the shared clock: other gateways kept advancing it; try again")
}
