package log

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strmlocal/strmlocal/internal/store"
)

const (
	kindRecord byte = 'r'
	kindTime   byte = 't'
	kindState  byte = 's'
	// 'K' is taken by the scale-out mode's Kafka log in its state
	// (log/kafkalog: dropped streams).
)

func streamPrefix(kind byte, s StreamID) []byte {
	k := make([]byte, 2+8, 2+16)
	k[0], k[1] = store.SpaceLog, kind
	binary.BigEndian.PutUint64(k[2:], uint64(s))
	return k
}

func appendU64(k []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(k, v) }

func recordKey(s StreamID, off uint64) []byte { return appendU64(streamPrefix(kindRecord, s), off) }
func stateKey(s StreamID) []byte              { return streamPrefix(kindState, s) }

// timeKey orders milliseconds before and after the epoch correctly by
// flipping the sign bit.
func timeKey(s StreamID, millis int64) []byte {
	return appendU64(streamPrefix(kindTime, s), uint64(millis)^(1<<63))
}

func decodeU64Suffix(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

func millisOfTimeKey(k []byte) int64 { return int64(decodeU64Suffix(k) ^ (1 << 63)) }

// state is the persisted summary of one stream.
type state struct {
	first, next uint64 // offsets held are [first, next)
	bytes       uint64 // stored size of records [first, next)
	lastNanos   int64  // acceptance time of record next-1 (0 if none ever)
}

func (st state) encode() []byte {
	b := make([]byte, 0, 4*binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, st.first)
	b = binary.AppendUvarint(b, st.next)
	b = binary.AppendUvarint(b, st.bytes)
	return binary.AppendVarint(b, st.lastNanos)
}

var errCorrupt = errors.New("log: corrupt data")

func decodeState(b []byte) (state, error) {
	var st state
	var n int
	for _, p := range []*uint64{&st.first, &st.next, &st.bytes} {
		*p, n = binary.Uvarint(b)
		if n <= 0 {
			return st, fmt.Errorf("%w: stream state", errCorrupt)
		}
		b = b[n:]
	}
	st.lastNanos, n = binary.Varint(b)
	if n <= 0 || n != len(b) {
		return st, fmt.Errorf("%w: stream state", errCorrupt)
	}
	return st, nil
}

// Stored record value: version byte, varint time (unix nanos), uvarint meta
// length, meta, value.
const recordVersion = 1

func appendRecordValue(b []byte, r *Record) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(r.Meta)))
	b = append(b, r.Meta...)
	return append(b, r.Value...)
}

// decodeRecordValue decodes v into r, copying (Pebble's buffers are reused).
func decodeRecordValue(v []byte, r *Record) error {
	if len(v) == 0 || v[0] != recordVersion {
		return fmt.Errorf("%w: record version", errCorrupt)
	}
	v = v[1:]
	nanos, n := binary.Varint(v)
	if n <= 0 {
		return fmt.Errorf("%w: record time", errCorrupt)
	}
	v = v[n:]
	ml, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < ml {
		return fmt.Errorf("%w: record meta", errCorrupt)
	}
	v = v[n:]
	buf := make([]byte, len(v))
	copy(buf, v)
	r.Time = timeFromNanos(nanos)
	r.Meta, r.Value = buf[:ml:ml], buf[ml:]
	return nil
}

func appendUvarintBytes(v uint64) []byte { return binary.AppendUvarint(nil, v) }
