package app

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	schema, err := a.reg.ActiveSchema(schemaRef)
	if err != nil {
		return nil, err
	}
	if ser == 0 {
		ser = schema.DefaultSerialization()
	}
	results := make([]Result, len(bodies))
	recs := make([]log.Record, 0, len(bodies))
	idx := make([]int, 0, len(bodies))
	now := a.opts.Clock.Now().UTC()
	var meta engine.RecordMeta
	// The key links and subject records new to this batch, and the event
	// index entries of its records, go into its own group commit
	// (keys/pending.go, keys/events.go): one write, one fsync.
	pending := a.keys.Pending()
	for i, body := range bodies {
		ev, cc, err := engine.Validate(schema, ser, body, a.opts.MaxEventBytes, a.reg.ActiveContract)
		if err != nil {
			results[i].Err = err
			continue
		}
		value, err := a.seal(st.ID, ev, cc, now, &meta, pending)
		if err != nil {
			a.opts.Logger.Error("ingest failed", "stream", st.Name, "error", err)
			return nil, store.FullError(err)
		}
		recs = append(recs, log.Record{Time: now, Meta: meta.Append(nil), Value: value})
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		return results, nil
	}
	first, err := a.log.AppendAlso(ctx, st.ID, recs, pending)
	if err != nil {
		a.opts.Logger.Error("ingest failed", "stream", st.Name, "error", err)
		return nil, store.FullError(err)
	}
	for j, i := range idx {
		results[i].Offset = first + uint64(j)
	}
	return results, nil
}

// seal fills in strmMeta (nonce, timestamp, key link), encrypts the PII
// fields with the event's key and returns the encoded event; meta describes
// it. The key's writes not yet stored, and the event, are added to pending.
func (a *App) seal(stream log.StreamID, ev *engine.Event, cc *engine.CompiledContract, now time.Time, meta *engine.RecordMeta, pending *keys.Pending) ([]byte, error) {
	// Read key and subject before encryption: they are often PII themselves.
	keyValue, _ := cc.KeyValue(ev)
	subject, _ := cc.DataSubjectValue(ev)
	key, err := a.keys.ForAppend(stream, keyValue, subject, pending)
	if err != nil {
		return nil, err
	}
	ev.SetNonce(rand.Int32())
	ev.SetTimestamp(now.UnixMilli())
	if err := ev.SetKeyLink(key.ID); err != nil {
		return nil, err
	}
	if err := cc.Encrypt(ev, key); err != nil {
		return nil, err
	}
	*meta = engine.RecordMeta{SchemaRef: ev.Schema().Ref().String(), ContractRef: cc.Ref().String(), KeyLink: key.ID, Consent: ev.ConsentLevels()}
	pending.Event(key)
	return ev.Encode(nil), nil
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
	for i, body := range bodies {
		_, _, out[i] = engine.Validate(schema, ser, body, a.opts.MaxEventBytes, a.reg.ActiveContract)
	}
	return out, nil
}
