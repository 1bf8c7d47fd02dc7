package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// Pipeline runs ingest (SPEC §3: validate → key link → encrypt → append)
// and its reverse for egress (read → decrypt as a stream's view allows).
// It is safe for concurrent use.
type Pipeline struct {
	Log  *log.Log
	Keys *keys.Keys
	// Now is the server clock; acceptance times and strmMeta.timestamp come
	// from it.
	Now func() time.Time
	// MaxEventBytes caps one event body (see Validate).
	MaxEventBytes int
}

// Result is the outcome of one event of Ingest: its offset, or the
// rejection (*RejectError) that kept it out.
type Result struct {
	Offset uint64
	Err    error
}

// Ingest validates, encrypts and appends a batch of event bodies to a source
// stream. Every event is judged on its own; the accepted ones are appended
// in one durable write, in order, before Ingest returns. A non-nil error
// means the batch could not be stored (nothing of it was acknowledged).
func (p *Pipeline) Ingest(ctx context.Context, stream log.StreamID, s *Schema, ser Serialization, bodies [][]byte, contracts Contracts) ([]Result, error) {
	results := make([]Result, len(bodies))
	recs := make([]log.Record, 0, len(bodies))
	idx := make([]int, 0, len(bodies))
	now := p.Now().UTC()
	var meta RecordMeta
	for i, body := range bodies {
		ev, cc, err := Validate(s, ser, body, p.MaxEventBytes, contracts)
		if err != nil {
			results[i].Err = err
			continue
		}
		value, err := p.seal(stream, ev, cc, now, &meta)
		if err != nil {
			return nil, err
		}
		recs = append(recs, log.Record{Time: now, Meta: meta.Append(nil), Value: value})
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		return results, nil
	}
	first, err := p.Log.Append(ctx, stream, recs)
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		results[i].Offset = first + uint64(j)
	}
	return results, nil
}

// seal fills in strmMeta (nonce, timestamp, key link), encrypts the PII
// fields with the event's key and returns the encoded event; meta describes
// it.
func (p *Pipeline) seal(stream log.StreamID, ev *Event, cc *CompiledContract, now time.Time, meta *RecordMeta) ([]byte, error) {
	// Read key and subject before encryption: they are often PII themselves.
	keyValue, _ := cc.KeyValue(ev)
	subject, _ := cc.DataSubjectValue(ev)
	key, err := p.Keys.For(stream, keyValue, subject)
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
	*meta = RecordMeta{SchemaRef: ev.schema.refString(), ContractRef: cc.contract.Ref.String(), KeyLink: key.ID, Consent: ev.ConsentLevels()}
	return ev.Encode(nil), nil
}

// Resolver finds the schema and contract a stored event names, in any state:
// events stay readable after their schema or contract is archived.
type Resolver interface {
	Schema(ref string) (*Schema, error)
	Contract(ref string) (*CompiledContract, error)
}

// Rendered is a stored event as a stream shows it.
type Rendered struct {
	Offset uint64
	Time   time.Time
	Meta   RecordMeta
	// JSON is the event as plain JSON (strmMeta plus fields, unions
	// unwrapped), with PII decrypted as the view allows.
	JSON    []byte
	Applied Applied
}

// Render turns a stored record into what a stream shows: as stored (PII
// encrypted) when view is nil, else the derived view of it. keep is false
// when the view does not receive the event. dst is reused for JSON. memo,
// when not nil, remembers decryptions across the calls of one reader.
func (p *Pipeline) Render(rec log.Record, view *View, res Resolver, memo *DecryptMemo, dst []byte) (out Rendered, keep bool, err error) {
	meta, err := ParseRecordMeta(rec.Meta)
	if err != nil {
		return out, false, fmt.Errorf("offset %d: %w", rec.Offset, err)
	}
	out = Rendered{Offset: rec.Offset, Time: rec.Time, Meta: meta}
	if view != nil && !view.Keeps(meta.Consent) {
		return out, false, nil
	}
	s, err := res.Schema(meta.SchemaRef)
	if err != nil {
		return out, false, fmt.Errorf("offset %d: %w", rec.Offset, err)
	}
	ev, err := s.DecodeStored(rec.Value)
	if err != nil {
		return out, false, fmt.Errorf("offset %d: stored event does not decode: %w", rec.Offset, err)
	}
	if view != nil {
		cc, err := res.Contract(meta.ContractRef)
		if err != nil {
			return out, false, fmt.Errorf("offset %d: %w", rec.Offset, err)
		}
		var dec Decrypter
		key, err := p.Keys.Get(meta.KeyLink)
		switch {
		case err == nil && memo != nil:
			dec = memo.Through(key.ID, key)
		case err == nil:
			dec = key
		case errors.Is(err, keys.ErrShredded), errors.Is(err, keys.ErrNotFound):
			// Crypto-shredded: the view shows ciphertext and says so.
		default:
			return out, false, fmt.Errorf("offset %d: %w", rec.Offset, err)
		}
		if out.Applied, err = view.Apply(ev, cc, dec); err != nil {
			return out, false, fmt.Errorf("offset %d: %w", rec.Offset, err)
		}
	}
	out.JSON = ev.AppendJSON(dst[:0])
	return out, true, nil
}
