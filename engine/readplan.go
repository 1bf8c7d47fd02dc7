package engine

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/twmb/murmur3"
)

// ReadPlan is how one reader shows stored events of one schema and
// contract: as stored (a source stream), or through one view. A derived
// stream reads event after event of the same few contracts, so what
// View.Apply works out for every event (which PII fields the view decrypts,
// which fields it masks, the lists that say what it did) is worked out once
// per plan, and every event is decoded into the same memory.
//
// A plan belongs to one reader: it is not safe for concurrent use. The event
// Decode returns is valid until the plan's next Decode, and the lists of the
// Applied that Apply returns are shared by the events they describe: read
// them, never change them.
type ReadPlan struct {
	schema *Schema
	cc     *CompiledContract // nil for a plan without a view that needs no contract
	view   *View             // nil: events as stored

	// bits: the masks of Apply fit in 64 bits (every PII field and every
	// masked field has one); otherwise Apply is View.Apply.
	bits     bool
	decrypts []bool     // per cc.pii: the view shows its level in plaintext
	maskBit  []int8     // per cc.pii: its bit in masked, -1 when not masked
	others   []maskSlot // masked fields that are not PII
	masked   []string   // the paths the view masks for cc, sorted
	s1, s2   uint64     // the mask seed, hashed once
	lists    map[appliedBits]Applied

	d  decoder
	ev Event
}

// maskSlot is a masked field that is not PII, and its bit in masked.
type maskSlot struct {
	field Field
	bit   int8
}

// appliedBits says which fields one Apply decrypted, left encrypted and
// masked: bits of cc.pii indexes, and of ReadPlan.masked indexes.
type appliedBits struct{ decrypted, encrypted, masked uint64 }

// maxPlanLists bounds the Applied lists a plan keeps; past it the set
// starts again. An event's fields are null or not in few combinations.
const maxPlanLists = 64

// NewReadPlan returns a plan for stored events of schema s and contract cc
// shown through v, or as stored when v is nil (cc may then be nil too, when
// the caller needs no contract). It refuses, as View.Apply does, a view
// whose masked paths are not string fields of cc's schema. REQUIRES: cc is
// set when v is.
func NewReadPlan(s *Schema, cc *CompiledContract, v *View) (*ReadPlan, error) {
	p := &ReadPlan{schema: s, cc: cc, d: decoder{schema: s}}
	p.ev.schema = s
	if v == nil {
		return p, nil
	}
	view := *v
	p.view = &view
	ref := cc.contract.Ref.String()
	masked := v.Masked[ref]
	for i := range masked {
		if msg := maskedProblem(ref, masked, i, cc.schema); msg != "" {
			return nil, viewError("masked", "%s", msg)
		}
	}
	if len(cc.pii) > 64 || len(masked) > 64 {
		return p, nil // Apply is View.Apply
	}
	p.bits = true
	p.masked = slices.Sorted(slices.Values(masked))
	p.s1, p.s2 = murmur3.StringSum128(v.Seed)
	p.decrypts = make([]bool, len(cc.pii))
	p.maskBit = make([]int8, len(cc.pii))
	for i, f := range cc.pii {
		p.decrypts[i] = v.Decrypts(f.Level)
		p.maskBit[i] = int8(slices.Index(p.masked, f.Field.Path))
	}
	for j, path := range p.masked {
		if cc.isPII(path) {
			continue
		}
		f, _ := cc.schema.Field(path) // checked above
		p.others = append(p.others, maskSlot{f, int8(j)})
	}
	p.lists = make(map[appliedBits]Applied)
	return p, nil
}

// Decode decodes stored, an event of the plan's schema as Event.Encode wrote
// it (DecodeStored), into the plan's one event: valid until the next call.
// The event's strings are stored's bytes, not a copy of them: REQUIRES:
// stored does not change until the next Decode. What outlives the event
// never shares them: AppendJSON copies, the memo clones the ciphertexts it
// keeps, and plaintexts and masks are strings of their own.
func (p *ReadPlan) Decode(stored []byte) (*Event, error) {
	vals, err := p.d.run(p.schema.DefaultSerialization(), unsafe.String(unsafe.SliceData(stored), len(stored)), false, p.ev.vals)
	p.ev.vals = vals
	if cap(p.d.stack) > maxPooledStack {
		p.d.stack = nil // one huge event does not pin its memory
	}
	clear(p.d.stack[:cap(p.d.stack)])
	clear(p.d.keys)
	p.d.stack = p.d.stack[:0]
	if err != nil {
		return nil, p.schema.reject(err)
	}
	return &p.ev, nil
}

// Apply is View.Apply(ev, cc, dec) of the plan's view and contract, with the
// same result and errors. REQUIRES: the plan has a view.
func (p *ReadPlan) Apply(ev *Event, dec Decrypter) (Applied, error) {
	v, cc := p.view, p.cc
	if !p.bits {
		return v.Apply(ev, cc, dec)
	}
	if ev.schema != cc.schema {
		return Applied{}, cc.schemaMismatch(ev)
	}
	if !v.keepsEvent(ev) {
		return Applied{}, fmt.Errorf("%w: stream %s %s does not keep this event of contract '%s'",
			ErrNotInView, v.Type, joinLevels(v.Levels, ","), cc.contract.Ref)
	}
	var b appliedBits
	shredded := false
	for i, f := range cc.pii {
		ct, ok := ev.GetString(f.Field)
		switch {
		case !ok:
			continue
		case !p.decrypts[i]:
			b.encrypted |= 1 << i
			continue
		case dec == nil:
			shredded = true
			b.encrypted |= 1 << i
			continue
		}
		pt, err := dec.Decrypt(f.Field.Path, ct)
		if err != nil {
			return Applied{}, fmt.Errorf("%w: field '%s' of contract '%s': %w", ErrDecrypt, f.Field.Path, cc.contract.Ref, err)
		}
		if j := p.maskBit[i]; j >= 0 {
			pt = maskWith(p.s1, p.s2, pt)
			b.masked |= 1 << j
		} else {
			b.decrypted |= 1 << i
		}
		if err := ev.SetString(f.Field, pt); err != nil {
			return Applied{}, err // plaintext not valid UTF-8; the error does not quote it
		}
	}
	for _, m := range p.others {
		val, ok := ev.GetString(m.field)
		if !ok {
			continue
		}
		if err := ev.SetString(m.field, maskWith(p.s1, p.s2, val)); err != nil {
			return Applied{}, err
		}
		b.masked |= 1 << m.bit
	}
	a := p.applied(b)
	a.Shredded = shredded
	return a, nil
}

// applied returns the lists b describes, in View.Apply's order: Decrypted
// and Encrypted in the order of cc.pii, Masked by path; nil when empty.
func (p *ReadPlan) applied(b appliedBits) Applied {
	if a, ok := p.lists[b]; ok {
		return a
	}
	var a Applied
	for i, f := range p.cc.pii {
		if b.decrypted&(1<<i) != 0 {
			a.Decrypted = append(a.Decrypted, f.Field.Path)
		}
		if b.encrypted&(1<<i) != 0 {
			a.Encrypted = append(a.Encrypted, f.Field.Path)
		}
	}
	for j, path := range p.masked {
		if b.masked&(1<<j) != 0 {
			a.Masked = append(a.Masked, path)
		}
	}
	if len(p.lists) >= maxPlanLists {
		clear(p.lists)
	}
	p.lists[b] = a
	return a
}
