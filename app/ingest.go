package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// Result is the outcome of one event of Ingest: its offset, or the
// rejection (*engine.RejectError) that kept it out.
type Result struct {
	Offset uint64
	Err    error
}

// Ingest runs the ingest pipeline (docs/pipeline.md: validate → key link →
// encrypt → append) on a batch of event bodies of one schema for a source
// stream. ser 0 means the schema's own serialization. Every event is judged
// on its own; the accepted ones are appended in one durable write, in
// order, before Ingest returns. A non-nil error means the batch could not
// be stored: nothing of it was acknowledged.
func (a *App) Ingest(ctx context.Context, st *catalog.Stream, schemaRef string, ser engine.Serialization, bodies [][]byte) ([]Result, error) {
	if st.IsDerived() {
		return nil, &kindError{ErrDerived, fmt.Sprintf("stream %q is derived from %q and accepts no events; send to %q", st.Name, st.DerivedFrom, st.DerivedFrom)}
	}
	if err := a.disk.Full(); err != nil {
		return nil, err
	}
	if err := a.reachable(); err != nil {
		return nil, err
	}
	schema, err := a.reg.ActiveSchema(schemaRef)
	if err != nil {
		return nil, err
	}
	if ser == 0 {
		ser = schema.DefaultSerialization()
	}
	results := make([]Result, len(bodies))
	sc := getScratch(len(bodies))
	defer putScratch(sc)
	recs, idx, evs := sc.recs, sc.idx, sc.evs
	now := a.opts.Clock.Now().UTC()
	var meta engine.RecordMeta
	// The key links and subject records new to this batch, and the event
	// index entries of its records, go into its own group commit
	// (keys/pending.go, keys/events.go): one write, one fsync.
	pending := a.keys.Pending()
	defer pending.Release() // after the append: the log is done with it
	// The encoded records and their metadata are appended to one buffer
	// per batch, sized for what encryption adds (ciphertexts are longer
	// than plaintexts; the key link and metadata are extra), instead of
	// each growing from nothing: the log copies them into its write batch
	// (log/keys.go; the Kafka log into its record batch), so nothing keeps
	// them once the append returns, and the buffer goes back to a pool for
	// the next batch. When the estimate falls short, append moves on to a
	// larger array and the records already cut out of the old one stay
	// valid.
	arena := getArena(arenaSize(bodies))
	defer putArena(arena)
	buf := *arena
	// Every event is judged first; then the accepted ones are sealed, in
	// order. In the scale-out mode the batch's new key links are created
	// in between, in one transaction (keys.Prefetch).
	slab := &sc.slab
	for i, body := range bodies {
		if evs[i].ev, evs[i].cc, err = engine.ValidateInto(slab, schema, ser, body, a.opts.MaxEventBytes, a.reg.ActiveContract); err != nil {
			results[i].Err = err
		}
	}
	if a.pg != nil && len(bodies) > 1 {
		a.prefetchKeys(st.ID, evs)
	}
	var memo keyMemo
	for i := range evs {
		ev, cc := evs[i].ev, evs[i].cc
		if ev == nil {
			continue
		}
		start := len(buf)
		if buf, err = a.seal(buf, st.ID, ev, cc, now, &meta, pending, &memo); err != nil {
			a.opts.Logger.Error("ingest failed", "stream", st.Name, "error", err)
			return nil, store.FullError(err)
		}
		mid := len(buf)
		buf = meta.Append(buf)
		recs = append(recs, log.Record{Time: now, Meta: buf[mid:len(buf):len(buf)], Value: buf[start:mid:mid]})
		idx = append(idx, i)
	}
	*arena = buf // the array the records ended in (the largest): the one to pool
	if len(recs) == 0 {
		return results, nil
	}
	_, err = a.log.AppendAlso(ctx, st.ID, recs, pending)
	if err != nil {
		a.opts.Logger.Error("ingest failed", "stream", st.Name, "error", err)
		if errors.Is(err, store.ErrUnavailable) {
			// The producer is told which service, not where it is.
			return nil, &kindError{ErrStorageUnavailable, "storage unavailable: the event log or the state did not answer; nothing of this batch was acknowledged: retry"}
		}
		return nil, store.FullError(err)
	}
	for j, i := range idx {
		results[i].Offset = recs[j].Offset // set by the log
	}
	return results, nil
}

// ingestScratch is the working memory of an Ingest call, pooled (with the
// arena and keys.Pending, a batch's allocations beyond its events and
// results): the records, the batch positions of the accepted events, and
// the events as judged.
type ingestScratch struct {
	recs []log.Record
	idx  []int
	evs  []validEvent
	slab engine.Slab // the events' memory
}

var scratches = sync.Pool{New: func() any { return new(ingestScratch) }}

// maxPooledScratch bounds the events an ingestScratch keeps room for.
const maxPooledScratch = 4096

// getScratch returns scratch for n events: recs and idx empty, evs n zero
// events.
func getScratch(n int) *ingestScratch {
	sc := scratches.Get().(*ingestScratch)
	sc.recs = slices.Grow(sc.recs[:0], n)
	sc.idx = slices.Grow(sc.idx[:0], n)
	sc.evs = slices.Grow(sc.evs[:0], n)[:n]
	return sc
}

// putScratch drops what sc refers to (records cut from the arena, events
// in their slab) and pools it.
func putScratch(sc *ingestScratch) {
	sc.slab.Release()
	if cap(sc.evs) > maxPooledScratch {
		return
	}
	clear(sc.recs[:cap(sc.recs)])
	clear(sc.evs[:cap(sc.evs)])
	scratches.Put(sc)
}

// validEvent is an event that passed Validate, and its contract.
type validEvent struct {
	ev *engine.Event
	cc *engine.CompiledContract
}

// prefetchKeys has the new key links of a batch's events created in one
// transaction (the scale-out mode: each would be a commit of its own).
func (a *App) prefetchKeys(stream log.StreamID, evs []validEvent) {
	var values, subjects []string
	for _, e := range evs {
		if e.ev == nil {
			continue
		}
		kv, _ := e.cc.KeyValue(e.ev)
		subject, _ := e.cc.DataSubjectValue(e.ev)
		values, subjects = append(values, kv), append(subjects, subject)
	}
	a.keys.Prefetch(stream, values, subjects)
}

// arenas pools the buffers Ingest encodes a batch's records into, up to
// maxPooledArena bytes each: a buffer too small for a batch is dropped for
// a new one.
var arenas sync.Pool // of *[]byte

const maxPooledArena = 4 << 20

func getArena(n int) *[]byte {
	if p, _ := arenas.Get().(*[]byte); p != nil && cap(*p) >= n {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, n)
	return &b
}

func putArena(p *[]byte) {
	if cap(*p) <= maxPooledArena {
		arenas.Put(p)
	}
}

// arenaSize is the buffer Ingest starts with for bodies' records: twice
// their bytes (base64 ciphertexts of short values are about twice as long
// as the values) and 160 bytes each for the key link, the other strmMeta
// fields and the record metadata (refs and key link again).
func arenaSize(bodies [][]byte) int {
	n := 0
	for _, b := range bodies {
		n += 2*len(b) + 160
	}
	return n
}

// keyMemo is the key of the last event a batch sealed, with the key value
// and subject it was asked for. The next event of the same session and
// subject, the common case in a batch, takes it without keys.ForAppend
// (two HMACs and a lookup, 5–10 % of ingest's CPU): the batch has one
// time, so the key current for one of its events is current for all, and
// the key's writes are in pending already.
type keyMemo struct {
	value, subject string
	key            *keys.Key
}

// seal fills in strmMeta (nonce, timestamp, key link), encrypts the PII
// fields with the event's key and appends the encoded event to dst; meta
// describes it. The key's writes not yet stored, and the event, are added
// to pending. memo is the batch's keyMemo, for pending.
func (a *App) seal(dst []byte, stream log.StreamID, ev *engine.Event, cc *engine.CompiledContract, now time.Time, meta *engine.RecordMeta, pending *keys.Pending, memo *keyMemo) ([]byte, error) {
	// Read key and subject before encryption: they are often PII themselves.
	keyValue, _ := cc.KeyValue(ev)
	subject, _ := cc.DataSubjectValue(ev)
	var key *keys.Key
	if memo.key != nil && memo.value == keyValue && memo.subject == subject {
		key = memo.key
	} else {
		var err error
		if key, err = a.keys.ForAppend(stream, keyValue, subject, pending); err != nil {
			return nil, err
		}
		*memo = keyMemo{keyValue, subject, key}
	}
	ev.SetNonce(rand.Int32())
	ev.SetTimestamp(now.UnixMilli())
	if err := ev.SetKeyLink(key.ID); err != nil {
		return nil, err
	}
	if err := cc.Encrypt(ev, key); err != nil {
		return nil, err
	}
	*meta = engine.RecordMeta{SchemaRef: ev.Schema().RefString(), ContractRef: cc.RefString(), KeyLink: key.ID, Consent: ev.ConsentLevels()}
	pending.Event(key)
	return ev.Encode(dst), nil
}

// Validate runs the checks of ingest (decode, contract, validations) on
// bodies of one schema without storing anything: one error (nil when
// valid) per body. ser 0 means the schema's own serialization.
func (a *App) Validate(schemaRef string, ser engine.Serialization, bodies [][]byte) ([]error, error) {
	schema, err := a.reg.ActiveSchema(schemaRef)
	if err != nil {
		return nil, err
	}
	if ser == 0 {
		ser = schema.DefaultSerialization()
	}
	out := make([]error, len(bodies))
	var slab engine.Slab
	defer slab.Release()
	for i, body := range bodies {
		_, _, out[i] = engine.ValidateInto(&slab, schema, ser, body, a.opts.MaxEventBytes, a.reg.ActiveContract)
	}
	return out, nil
}
