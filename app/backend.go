package app

import (
	"context"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
	"github.com/strmlocal/strmlocal/log/kafkalog"
)

// EventLog is the log of every source stream's encrypted events, as the
// application uses it: the embedded Pebble log (*log.Log) or, in the
// scale-out mode, one Kafka topic per stream (docs/scale-out.md). Its
// semantics are log.Log's: dense offsets per stream, an append durable
// with its Also writes when it returns, reads bounded in records and bytes,
// tails woken by appends.
type EventLog interface {
	AppendAlso(ctx context.Context, id log.StreamID, recs []log.Record, also log.Also) (uint64, error)
	Bounds(id log.StreamID) (first, next uint64, err error)
	Size(id log.StreamID) (uint64, error)
	Read(id log.StreamID, from uint64, limit int) ([]log.Record, error)
	SeekTime(id log.StreamID, t time.Time) (uint64, error)
	Subscribe(id log.StreamID, from uint64) log.Tail
	ScanMeta(id log.StreamID, from, to uint64, fn func(offset uint64, meta []byte) error) (uint64, error)
	Trim(id log.StreamID, r log.Retention, now time.Time) (uint64, error)
	Drop(id log.StreamID, also func(store.Batch) error) error
	Close() error
}

var (
	_ EventLog = (*log.Log)(nil)
	_ EventLog = (*kafkalog.Log)(nil)
)
