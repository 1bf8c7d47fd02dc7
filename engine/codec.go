package engine

// codec is what one schema type knows about its events: how a body is
// decoded into Event.vals, how an event is written out again, and where a
// field's value sits in vals. CompileSchema picks the codec once, by schema
// type (avroPlan for Avro, jschPlan for JSON Schema); everything else in the
// package reaches events through it and never asks which type a schema is.
// A new schema type is one compile function and one codec.
//
// INVARIANT: vals[0] of every event is the top-level record or object.
type codec interface {
	// serialization is the type's own wire format: the one Event.Encode
	// writes, DecodeStored reads and DefaultSerialization reports.
	serialization() Serialization

	// decode decodes d.raw in serialization ser into d.vals. With validate
	// false (DecodeStored) it checks the shape of the data only, not
	// constraints that ciphertext may break (JSON Schema's pattern, format,
	// maxLength). A serialization the type does not take yields
	// d.unsupported(ser).
	decode(d *decoder, ser Serialization, validate bool) error

	// encode appends e in serialization(); the result decodes again.
	encode(dst []byte, e *Event) []byte

	// appendJSON appends e as plain JSON, the egress shape (see
	// Event.AppendJSON).
	appendJSON(dst []byte, e *Event) []byte

	// lookup returns the index in vals (an event's values) of the value of
	// f, or -1 when it is absent (a parent is null, a JSON property is not
	// given).
	//
	// lookup and set take the values rather than the *Event so that an
	// Event does not escape to the heap for being read through an
	// interface.
	lookup(vals []value, f Field) int

	// set stores v as the value of f in vals and returns vals, which may
	// have grown (as append does). v is a vString, or a vLong holding any
	// integer; the codec turns it into its own form (union branch, int or
	// long, number literal). REQUIRES: f is a field of the event's schema
	// whose kind admits v. It fails (ErrField) when f's value cannot exist in
	// the event, such as under a null parent record.
	set(vals []value, f Field, v value) ([]value, error)
}

// metaField names the strmMeta fields the engine reads or sets. billingId is
// neither: the platform ignores it.
type metaField uint8

const (
	metaContractRef metaField = iota
	metaNonce
	metaTimestamp
	metaKeyLink
	metaConsent
	numMetaFields
)

// metaPaths are the field-index paths of the metaFields. Compiling a schema
// checks that each exists with the type docs/registry.md gives, so
// Schema.meta can resolve all of them.
var metaPaths = [numMetaFields]string{
	metaContractRef: "strmMeta/eventContractRef",
	metaNonce:       "strmMeta/nonce",
	metaTimestamp:   "strmMeta/timestamp",
	metaKeyLink:     "strmMeta/keyLink",
	metaConsent:     "strmMeta/consentLevels",
}

// setValue stores v at f through the codec; see codec.set.
func (e *Event) setValue(f Field, v value) error {
	vals, err := e.schema.codec.set(e.vals, f, v)
	e.vals = vals
	return err
}

// slot returns the index in e.vals of f's value, or -1 when it is absent. A
// codec that lays a field out at a fixed index says so in Field.slot, and
// reading it then skips the codec: field reads are the hot path of Check,
// Encrypt and View.Apply, and an interface call per read was measurable
// there (BenchmarkSetPII).
func (e *Event) slot(f Field) int {
	if f.slot >= 0 {
		return int(f.slot)
	}
	return e.schema.codec.lookup(e.vals, f)
}

// metaSlot returns the index in e.vals of strmMeta field m, or -1 when absent
// (only in a stored JSON Schema event that does not match its schema).
func (e *Event) metaSlot(m metaField) int { return e.slot(e.schema.meta[m]) }
