package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// Page sizes of Reader.Read, in records; Options.PageBytes bounds a page in
// bytes as well.
const (
	DefaultPageRecords = 100
	MaxPageRecords     = 10000
)

// Record is one stored event as a stream shows it: for a source stream as
// stored (PII encrypted), for a derived stream its view (consent filter,
// decryption, masking). Records of one Reader share the memory of their
// metadata's strings and slices and of Applied's lists: read them, never
// change them.
type Record struct {
	Offset uint64
	// Time is the acceptance time.
	Time time.Time
	Meta engine.RecordMeta
	// JSON is the event as plain JSON (strmMeta plus fields, unions
	// unwrapped).
	JSON string
	// Applied says what the view did. A source stream applies no view: its
	// Applied is zero but for Shredded, set when the event holds PII
	// ciphertext whose key is gone (shredded by retention or forgotten).
	Applied engine.Applied
}

// size is an upper bound of what r takes in a response: its JSON, its
// metadata and a few bytes of framing per field.
func (r *Record) size() int {
	n := 64 + len(r.JSON) + len(r.Meta.SchemaRef) + len(r.Meta.ContractRef) + len(r.Meta.KeyLink) + 11*len(r.Meta.Consent)
	for _, paths := range [][]string{r.Applied.Decrypted, r.Applied.Masked, r.Applied.Encrypted} {
		for _, p := range paths {
			n += len(p) + 8
		}
	}
	return n
}

// Start is where a read starts; see FromBeginning, FromEnd, FromOffset and
// FromTime.
type Start struct {
	kind   startKind
	offset uint64
	time   time.Time
}

type startKind uint8

const (
	startEnd startKind = iota
	startBeginning
	startOffset
	startTime
)

// FromBeginning starts at the first retained record.
func FromBeginning() Start { return Start{kind: startBeginning} }

// FromEnd starts after the last record: only new records are read.
func FromEnd() Start { return Start{kind: startEnd} }

// FromOffset starts at an offset (a retained offset before it reads from the
// first retained record).
func FromOffset(off uint64) Start { return Start{kind: startOffset, offset: off} }

// FromTime starts at the first record accepted at or after t.
func FromTime(t time.Time) Start { return Start{kind: startTime, time: t} }

// Reader reads one stream as it shows: the one stream reader of strmlocal,
// behind egress, websocket tails and jobs. It pulls from the log only when
// asked, so a consumer that stops asking holds the server to what it has
// already taken (back-pressure), and every page or follow step is bounded
// in records and in bytes (Options.PageBytes). A Reader is not safe for
// concurrent use; the slices it returns are valid until its next call (the
// Records in them, copied out, stay valid).
type Reader struct {
	a      *App
	stream *catalog.Stream
	id     log.StreamID        // the log read: a derived stream's source
	view   *engine.View        // nil for a source stream
	memo   *engine.DecryptMemo // derived streams only
	meta   engine.MetaParser
	// plans holds a plan per schema and contract met (last is the one used
	// last): registered versions never change, so each is looked up once.
	plans map[planKey]*plan
	last  *plan
	// gone remembers key links found shredded or missing: a shredded key
	// never comes back, and keys.Get caches only live keys, so without it
	// every record of a forgotten subject would cost a store read.
	gone map[string]struct{}
	// live remembers, for the page being read, the links of a source
	// stream found live (not shredded).
	live map[string]struct{}

	buf  []byte   // scratch space for rendering one record
	recs []Record // the records returned last
}

type planKey struct{ schema, contract string }

// plan is how a Reader shows the records of one schema and contract.
type plan struct {
	key planKey
	*engine.ReadPlan
	contract *catalog.Contract // nil when err is set
	// err is why the contract is not there, or why the view cannot show
	// its events: the records that need it fail with it.
	err error
}

// Reader returns a reader of st.
func (a *App) Reader(st *catalog.Stream) (*Reader, error) {
	r := &Reader{a: a, stream: st, id: st.ID}
	if st.IsDerived() {
		src, err := a.streams.Get(st.DerivedFrom)
		if err != nil {
			return nil, err
		}
		v := st.View()
		r.id, r.view, r.memo = src.ID, &v, engine.NewDecryptMemo()
	}
	return r, nil
}

// Stream is the stream read.
func (r *Reader) Stream() *catalog.Stream { return r.stream }

// Bounds returns the offsets of the first retained record and of the end
// of the log (the offset the next record will get). A derived stream has
// the offsets of its source.
func (r *Reader) Bounds() (first, end uint64, err error) { return r.a.log.Bounds(r.id) }

// Seek returns the offset a read from s starts at.
func (r *Reader) Seek(s Start) (uint64, error) {
	switch s.kind {
	case startOffset:
		return s.offset, nil
	case startTime:
		return r.a.log.SeekTime(r.id, s.time)
	}
	first, end, err := r.a.log.Bounds(r.id)
	if s.kind == startBeginning {
		return first, err
	}
	return end, err
}

// Page is one page of Read.
type Page struct {
	Records []Record
	// Next is the offset to read on from: past every record read, shown or
	// dropped by the view.
	Next uint64
}

// Read returns a page from offset from: up to limit records the stream
// shows (DefaultPageRecords when limit ≤ 0, at most MaxPageRecords) and no
// more than Options.PageBytes of them, though at least one record. A
// derived stream's page reads on through the records its view drops, up to
// the end of the log.
func (r *Reader) Read(ctx context.Context, from uint64, limit int) (Page, error) {
	return r.ReadUntil(ctx, from, math.MaxUint64, limit)
}

// ReadUntil is Read that stops at offset until.
func (r *Reader) ReadUntil(ctx context.Context, from, until uint64, limit int) (Page, error) {
	switch {
	case limit <= 0:
		limit = DefaultPageRecords
	case limit > MaxPageRecords:
		limit = MaxPageRecords
	}
	r.reset()
	page := Page{Next: from}
	size := 0
	for len(r.recs) < limit && page.Next < until {
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
		n := min(uint64(limit-len(r.recs)), until-page.Next)
		raw, err := r.a.log.Read(r.id, page.Next, int(n))
		if err != nil || len(raw) == 0 {
			page.Records = r.recs
			return page, err
		}
		// Room for what may be shown of raw, no more: a page that ends
		// early at Options.PageBytes does not allocate for its limit.
		r.recs = slices.Grow(r.recs, min(len(raw), limit-len(r.recs)))
		for _, rec := range raw {
			added, err := r.add(rec, &size)
			if err != nil {
				return Page{}, err
			}
			if !added {
				page.Records = r.recs
				return page, nil // full: the next page starts at rec
			}
			page.Next = rec.Offset + 1
		}
	}
	page.Records = r.recs
	return page, nil
}

// Follower follows a stream from an offset on, waiting for new records; see
// Reader.Follow.
type Follower struct {
	r       *Reader
	sub     log.Tail
	pending []log.Record // read from the log, not yet returned
	pos     uint64       // the offset after the last record taken from the log and returned or dropped
}

// Follow returns a follower of the stream from offset from. Appends wake it;
// it never polls, misses or repeats a record.
func (r *Reader) Follow(from uint64) *Follower {
	return &Follower{r: r, sub: r.a.log.Subscribe(r.id, from), pos: from}
}

// Position is the offset to follow on from after the records Next returned
// last: past them and past the records the view dropped before them.
func (f *Follower) Position() uint64 { return f.pos }

// Next waits until the stream shows at least one new record and returns the
// new records, no more than Options.PageBytes of them (at least one). It
// returns ctx.Err() when ctx ends, log.ErrClosed when the App closes and
// log.ErrDropped when the stream is deleted. The records are valid until
// the next call.
func (f *Follower) Next(ctx context.Context) ([]Record, error) {
	r := f.r
	r.reset()
	size := 0
	for {
		if len(f.pending) == 0 {
			if len(r.recs) > 0 {
				return r.recs, nil
			}
			var err error
			if f.pending, err = f.sub.Next(ctx); err != nil {
				return nil, err
			}
		}
		for len(f.pending) > 0 {
			added, err := r.add(f.pending[0], &size)
			if err != nil {
				return nil, err
			}
			if !added {
				return r.recs, nil
			}
			f.pos = f.pending[0].Offset + 1
			f.pending = f.pending[1:]
		}
	}
}

// reset forgets what the last call returned, keeping the memory.
func (r *Reader) reset() {
	clear(r.recs) // drop references to old records
	r.recs = r.recs[:0]
	clear(r.live)
}

// add renders rec and appends it to r.recs if the stream shows it and it
// fits in Options.PageBytes with what is there (a first record always
// fits). It reports false, changing nothing, when rec does not fit.
func (r *Reader) add(rec log.Record, size *int) (bool, error) {
	out, keep, err := r.render(rec)
	if err != nil || !keep {
		return true, err
	}
	n := out.size()
	if len(r.recs) > 0 && *size+n > r.a.opts.PageBytes {
		return false, nil
	}
	*size += n
	r.recs = append(r.recs, out)
	return true, nil
}

// render turns a stored record into what the stream shows. keep is false
// when the view drops it. The event is decoded into its plan's memory and
// its JSON rendered in r.buf, which stays in the cache from record to
// record, and copied out once, at its size.
func (r *Reader) render(rec log.Record) (out Record, keep bool, err error) {
	meta, err := r.meta.Parse(rec.Meta)
	if err != nil {
		return out, false, r.fail(rec, err)
	}
	out = Record{Offset: rec.Offset, Time: rec.Time, Meta: meta}
	if r.view != nil && !r.view.Keeps(meta.Consent) {
		return out, false, nil
	}
	p, err := r.plan(meta)
	if err != nil {
		return out, false, r.fail(rec, err)
	}
	ev, err := p.Decode(rec.Value)
	if err != nil {
		return out, false, r.fail(rec, fmt.Errorf("stored event does not decode: %w", err))
	}
	if r.view != nil {
		if p.err != nil {
			return out, false, r.fail(rec, p.err)
		}
		var dec engine.Decrypter
		key, err := r.key(meta.KeyLink)
		switch {
		case err != nil:
			return out, false, r.fail(rec, err)
		case key != nil:
			dec = r.memo.Through(key.ID, key)
		}
		// key == nil: crypto-shredded; the view shows ciphertext and says so.
		if out.Applied, err = p.Apply(ev, dec); err != nil {
			return out, false, r.fail(rec, err)
		}
		if !r.view.Emits(ev) {
			return out, false, nil
		}
	} else if meta.KeyLink != "" {
		// A source stream shows what is stored, but says when its
		// ciphertext can no longer be decrypted by anyone. Only an event
		// that holds PII ciphertext needs its key looked up.
		if p.err != nil {
			return out, false, r.fail(rec, p.err)
		}
		if p.contract.HoldsPII(ev) {
			gone, err := r.shredded(meta.KeyLink)
			if err != nil {
				return out, false, r.fail(rec, err)
			}
			out.Applied.Shredded = gone
		}
	}
	r.buf = ev.AppendJSON(r.buf[:0])
	out.JSON = string(r.buf)
	return out, true, nil
}

// plan returns the plan for records of meta's schema and contract. It fails
// only when the schema is not there; what else stands in the way is the
// plan's err.
func (r *Reader) plan(meta engine.RecordMeta) (*plan, error) {
	k := planKey{meta.SchemaRef, meta.ContractRef}
	if r.last != nil && r.last.key == k {
		return r.last, nil
	}
	if p, ok := r.plans[k]; ok {
		r.last = p
		return p, nil
	}
	s, err := r.a.reg.Schema(k.schema)
	if err != nil {
		return nil, err
	}
	p := &plan{key: k}
	p.contract, p.err = r.a.reg.Contract(k.contract)
	var cc *engine.CompiledContract
	if p.err == nil {
		cc = p.contract.CompiledContract
	}
	var view *engine.View
	if p.err == nil {
		view = r.view
	}
	if p.ReadPlan, err = engine.NewReadPlan(s.Schema, cc, view); err != nil {
		p.err = err
		if p.ReadPlan, err = engine.NewReadPlan(s.Schema, nil, nil); err != nil {
			return nil, err
		}
	}
	if r.plans == nil || len(r.plans) >= maxPlans {
		r.plans = make(map[planKey]*plan)
	}
	r.plans[k], r.last = p, p
	return p, nil
}

// maxPlans bounds Reader.plans; past it the set starts again.
const maxPlans = 256

// maxGone bounds Reader.gone; past it the set starts again.
const maxGone = 4096

// key returns the live key of a link, or nil when it was shredded (by
// retention or by forgetting its data subject) or is not known.
func (r *Reader) key(link string) (*keys.Key, error) {
	if _, ok := r.gone[link]; ok {
		return nil, nil
	}
	key, err := r.a.keys.Get(link)
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, keys.ErrShredded), errors.Is(err, keys.ErrNotFound):
		r.markGone(link)
		return nil, nil
	}
	return nil, err
}

func (r *Reader) markGone(link string) {
	if r.gone == nil || len(r.gone) >= maxGone {
		r.gone = make(map[string]struct{})
	}
	r.gone[link] = struct{}{}
}

// shredded tells whether a link's key is gone, as key does, without
// loading the key (keys.Shredded): a source stream shows ciphertext, and
// only says when no one can decrypt it any more. The links found live are
// remembered for one page: a forget that lands during the page counts
// from the next one, as if the page had been read just before it.
func (r *Reader) shredded(link string) (bool, error) {
	if _, ok := r.gone[link]; ok {
		return true, nil
	}
	if _, ok := r.live[link]; ok {
		return false, nil
	}
	gone, err := r.a.keys.Shredded(link)
	switch {
	case err != nil:
		return false, err
	case gone:
		r.markGone(link)
	default:
		if r.live == nil {
			r.live = make(map[string]struct{})
		}
		r.live[link] = struct{}{}
	}
	return gone, nil
}

// fail reports a stored record that cannot be read: a defect or a damaged
// data dir, never the reader's fault. It is logged here, once.
func (r *Reader) fail(rec log.Record, err error) error {
	err = fmt.Errorf("offset %d: %w", rec.Offset, err)
	r.a.opts.Logger.Error("cannot read record", "stream", r.stream.Name, "error", err)
	return &unreadableError{err}
}
