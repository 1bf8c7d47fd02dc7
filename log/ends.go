package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// ErrInconsistent is returned by Open when a stream's state (its end
// marker) does not match the records present: records were lost from a data
// file, and starting would hand out their offsets again.
var ErrInconsistent = errors.New("log: stream state does not match its records")

// checkEnds compares every stream's state with the records present, with a
// few seeks per stream: the first record must be at first, the last at
// next-1, none at next or after; and no records may exist without a state.
// It is what Open can afford on every start; Check reads everything.
func checkEnds(r pebble.Reader) error {
	states := map[StreamID]state{}
	err := store.Scan(r, []byte{store.SpaceLog, kindState}, func(k, v []byte) error {
		st, err := decodeState(v)
		if err != nil {
			return fmt.Errorf("%w: stream %d: %v", ErrInconsistent, decodeU64Suffix(k), err)
		}
		states[StreamID(decodeU64Suffix(k))] = st
		return nil
	})
	if err != nil {
		return err
	}
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{store.SpaceLog, kindRecord},
		UpperBound: []byte{store.SpaceLog, kindRecord + 1},
	})
	if err != nil {
		return err
	}
	defer it.Close()
	var bad []string
	ids := make([]StreamID, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st := states[id]
		lo, hi, ok := recordRange(it, id)
		switch {
		case !ok && st.first != st.next:
			bad = append(bad, fmt.Sprintf("stream %d: its state says offsets [%d, %d) and no record is present", id, st.first, st.next))
		case ok && (lo != st.first || hi != st.next):
			bad = append(bad, fmt.Sprintf("stream %d: its state says offsets [%d, %d) and the records present are [%d, %d)", id, st.first, st.next, lo, hi))
		}
	}
	// Records of streams without a state.
	for ok := it.First(); ok; {
		id := StreamID(binary.BigEndian.Uint64(it.Key()[2:10]))
		if _, known := states[id]; !known {
			bad = append(bad, fmt.Sprintf("stream %d: records without a stream state", id))
		}
		ok = it.SeekGE(streamPrefix(kindRecord, id+1))
	}
	if err := it.Error(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s; records were lost from a data file, and starting would hand their offsets out again: restore the data dir from a copy, or move it away to start afresh",
			ErrInconsistent, strings.Join(bad, "; "))
	}
	return nil
}

// recordRange returns the first offset and one past the last offset of
// the stream's records (ok false if it has none).
func recordRange(it *pebble.Iterator, id StreamID) (lo, hi uint64, ok bool) {
	p := streamPrefix(kindRecord, id)
	if !it.SeekGE(p) || !hasPrefix(it.Key(), p) {
		return 0, 0, false
	}
	lo = decodeU64Suffix(it.Key())
	if !it.SeekLT(store.PrefixEnd(p)) || !hasPrefix(it.Key(), p) {
		return 0, 0, false
	}
	return lo, decodeU64Suffix(it.Key()) + 1, true
}

func hasPrefix(k, p []byte) bool { return len(k) == len(p)+8 && string(k[:len(p)]) == string(p) }

// Loss is a range of offsets of one stream that were acknowledged (the
// log's own state said so in a write that was lost) and are not in the
// database: [From, To).
type Loss struct {
	Stream   StreamID
	From, To uint64
	// Deleted is set when the lost writes deleted the stream: the deletion
	// is lost, and the stream is back as it was before it.
	Deleted bool
}

// Losses compares the stream states written by lost (a repair's dropped
// batches, in order) with the states in db (what survives) and returns, by
// stream, the offsets the log had acknowledged and no longer holds.
func Losses(db pebble.Reader, lost []store.WALBatch) ([]Loss, error) {
	claimed := map[StreamID]uint64{}
	deleted := map[StreamID]bool{}
	for _, b := range lost {
		for _, w := range b.Writes {
			k := w.Key
			if len(k) != 10 || k[0] != store.SpaceLog || k[1] != kindState {
				continue
			}
			id := StreamID(decodeU64Suffix(k))
			switch w.Kind {
			case pebble.InternalKeyKindSet:
				st, err := decodeState(w.Value)
				if err != nil {
					continue // a damaged batch: not evidence
				}
				claimed[id] = max(claimed[id], st.next)
			case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete, pebble.InternalKeyKindDeleteSized:
				deleted[id] = true
			}
		}
	}
	var out []Loss
	for id, next := range claimed {
		var have uint64
		v, closer, err := db.Get(stateKey(id))
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			st, derr := decodeState(v)
			closer.Close()
			if derr != nil {
				return nil, derr
			}
			have = st.next
		}
		if next > have {
			out = append(out, Loss{Stream: id, From: have, To: next})
		}
	}
	for id := range deleted {
		out = append(out, Loss{Stream: id, Deleted: true})
	}
	slices.SortFunc(out, func(a, b Loss) int {
		if a.Stream != b.Stream {
			return int(a.Stream) - int(b.Stream)
		}
		if a.Deleted != b.Deleted {
			if a.Deleted {
				return 1
			}
			return -1
		}
		return 0
	})
	return out, nil
}
