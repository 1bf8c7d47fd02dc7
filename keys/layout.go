package keys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Kinds of key, the byte after store.SpaceKeys. See doc.go for the layout.
const (
	kindHashKey  byte = 'h' // the wrapped HMAC key
	kindLink     byte = 'l' // link record, by link ID
	kindStream   byte = 's' // stream index: stream, created, link ID
	kindCurrent  byte = 'c' // current link of (stream, value digest)
	kindExpiry   byte = 'e' // expiry index of live links: expires, link ID
	kindSubject  byte = 'p' // subject digest, link ID
	kindSubjects byte = 'r' // link ID, subject digest (reverse of kindSubject)
	kindEvents   byte = 'n' // event index: link ID, first offset (events.go)
	kindIndexed  byte = 'i' // event index cursor: stream
	kindAppends  byte = 'a' // event index, appends not folded: stream, first offset
	kindShreds   byte = 'x' // shared state only: shredded link IDs by wall time (shared.go)
)

const hashLen = 32 // HMAC-SHA256

type digest = [hashLen]byte

func prefix(kind byte, capacity int) []byte {
	k := make([]byte, 2, 2+capacity)
	k[0], k[1] = store.SpaceKeys, kind
	return k
}

var hashKeyKey = prefix(kindHashKey, 0)

func appendStream(k []byte, s log.StreamID) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(s))
}

// appendTime orders times before and after the epoch correctly by flipping
// the sign bit.
func appendTime(k []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(t.UnixNano())^(1<<63))
}

func decodeTime(b []byte) time.Time {
	return fromNanos(int64(binary.BigEndian.Uint64(b) ^ (1 << 63)))
}

func linkKey(id uuid.UUID) []byte { return append(prefix(kindLink, 16), id[:]...) }

func streamPrefix(s log.StreamID) []byte { return appendStream(prefix(kindStream, 32), s) }

func streamKey(s log.StreamID, created time.Time, id uuid.UUID) []byte {
	return append(appendTime(streamPrefix(s), created), id[:]...)
}

func currentPrefix(s log.StreamID) []byte { return appendStream(prefix(kindCurrent, 8+hashLen), s) }

func currentKey(s log.StreamID, vh digest) []byte { return append(currentPrefix(s), vh[:]...) }

func expiryKey(expires time.Time, id uuid.UUID) []byte {
	return append(appendTime(prefix(kindExpiry, 24), expires), id[:]...)
}

func subjectPrefix(sh digest) []byte { return append(prefix(kindSubject, hashLen+16), sh[:]...) }

func subjectKey(sh digest, id uuid.UUID) []byte { return append(subjectPrefix(sh), id[:]...) }

func subjectsPrefix(id uuid.UUID) []byte { return append(prefix(kindSubjects, 16+hashLen), id[:]...) }

func subjectsKey(id uuid.UUID, sh digest) []byte { return append(subjectsPrefix(id), sh[:]...) }

// idSuffix returns the link ID in the last 16 bytes of k.
func idSuffix(k []byte) uuid.UUID { return uuid.UUID(k[len(k)-16:]) }

// hashSuffix returns the digest in the last hashLen bytes of k.
func hashSuffix(k []byte) digest { return digest(k[len(k)-hashLen:]) }

// fromNanos is the inverse of time.UnixNano, with 0 for the zero time. All
// times this package hands out are in UTC without a monotonic reading, so a
// value read back from disk equals the one handed out before.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func normTime(t time.Time) time.Time { return fromNanos(toNanos(t)) }

const recordVersion = 1

const (
	flagShredded  byte = 1 << 0
	flagForgotten byte = 1 << 1
)

// record is the stored form of a link. A live record carries the value digest
// (to find its current-link entry) and the keyset wrapped under the master
// key; a tombstone carries neither.
type record struct {
	Link
	id      uuid.UUID
	vh      digest // zero in a tombstone
	wrapped []byte // nil in a tombstone
}

var errCorrupt = errors.New("keys: corrupt data")

func (r *record) encode() []byte {
	b := make([]byte, 0, 1+5*binary.MaxVarintLen64+1+1+hashLen+len(r.wrapped))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(r.Stream))
	for _, t := range []time.Time{r.Created, r.RotatesAt, r.ExpiresAt} {
		b = binary.AppendVarint(b, toNanos(t))
	}
	var flags byte
	if r.Shredded {
		flags |= flagShredded
	}
	if r.Forgotten {
		flags |= flagForgotten
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, toNanos(r.ShreddedAt))
	if r.Shredded {
		return b
	}
	b = append(b, r.vh[:]...)
	return append(b, r.wrapped...)
}

func decodeRecord(id uuid.UUID, b []byte) (*record, error) {
	bad := fmt.Errorf("%w: record of key link %s", errCorrupt, id)
	if len(b) == 0 || b[0] != recordVersion {
		return nil, bad
	}
	b = b[1:]
	r := &record{id: id}
	r.ID = id.String()
	s, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, bad
	}
	r.Stream, b = log.StreamID(s), b[n:]
	var nanos [4]int64
	for i := range 3 {
		if nanos[i], n = binary.Varint(b); n <= 0 {
			return nil, bad
		}
		b = b[n:]
	}
	if len(b) == 0 {
		return nil, bad
	}
	flags := b[0]
	b = b[1:]
	if nanos[3], n = binary.Varint(b); n <= 0 {
		return nil, bad
	}
	b = b[n:]
	r.Created, r.RotatesAt, r.ExpiresAt, r.ShreddedAt = fromNanos(nanos[0]), fromNanos(nanos[1]), fromNanos(nanos[2]), fromNanos(nanos[3])
	r.Shredded, r.Forgotten = flags&flagShredded != 0, flags&flagForgotten != 0
	if r.Shredded {
		if len(b) != 0 {
			return nil, bad
		}
		return r, nil
	}
	if len(b) <= hashLen {
		return nil, bad
	}
	r.vh = digest(b[:hashLen])
	r.wrapped = append([]byte(nil), b[hashLen:]...)
	return r, nil
}

// tombstone returns the record of r shredded at t: metadata only.
func (r *record) tombstone(t time.Time, forgotten bool) *record {
	tr := &record{Link: r.Link, id: r.id}
	tr.Shredded, tr.ShreddedAt, tr.Forgotten = true, normTime(t), forgotten
	return tr
}
