package engine

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// SchemaType is the kind of a schema definition.
type SchemaType uint8

// Schema types.
const (
	Avro       SchemaType = iota + 1 // Apache Avro (.avsc JSON)
	JSONSchema                       // JSON Schema, drafts 4 to 2020-12
)

// String returns the platform's name for the type: AVRO or JSON_SCHEMA.
func (t SchemaType) String() string {
	switch t {
	case Avro:
		return "AVRO"
	case JSONSchema:
		return "JSON_SCHEMA"
	}
	return fmt.Sprintf("SchemaType(%d)", uint8(t))
}

// ParseSchemaType accepts the CLI spellings (avro, json-schema) and the platform
// ones (AVRO, JSON_SCHEMA, JSONSCHEMA), case-insensitively.
func ParseSchemaType(s string) (SchemaType, error) {
	switch strings.ToLower(s) {
	case "avro":
		return Avro, nil
	case "json-schema", "json_schema", "jsonschema":
		return JSONSchema, nil
	}
	return 0, &DefinitionError{Field: "type", Msg: fmt.Sprintf("unknown schema type '%s' (want avro or json-schema)", s), kind: ErrInvalidSchema}
}

// Serialization is the wire format of one event body.
type Serialization uint8

// Serializations.
const (
	AvroBinary Serialization = iota + 1 // one bare Avro binary datum: no container, no header
	JSON                                // one JSON value
)

// Content types used in the Strm-Serialization-Type header.
const (
	ContentTypeAvroBinary = "application/x-avro-binary"
	ContentTypeJSON       = "application/json"
)

// String returns the content type of s.
func (s Serialization) String() string {
	switch s {
	case AvroBinary:
		return ContentTypeAvroBinary
	case JSON:
		return ContentTypeJSON
	}
	return fmt.Sprintf("Serialization(%d)", uint8(s))
}

// ParseSerialization maps a Strm-Serialization-Type value to a Serialization.
// Parameters after ';' are ignored. ok is false for anything else.
func ParseSerialization(contentType string) (s Serialization, ok bool) {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case ContentTypeAvroBinary:
		return AvroBinary, true
	case ContentTypeJSON:
		return JSON, true
	}
	return 0, false
}

// Kind is the type of a schema field as the field index reports it.
type Kind uint8

// Field kinds. The Avro kinds mirror Avro types; KindInteger, KindNumber,
// KindObject and KindAny occur only in JSON Schema.
const (
	KindInvalid Kind = iota
	KindNull
	KindBoolean
	KindInt
	KindLong
	KindFloat
	KindDouble
	KindString
	KindBytes
	KindFixed
	KindEnum
	KindRecord
	KindArray
	KindMap
	KindUnion   // an Avro union other than [null, T]
	KindInteger // JSON Schema "integer"
	KindNumber  // JSON Schema "number"
	KindObject  // JSON Schema "object"
	KindAny     // JSON Schema without one definite type
)

var kindNames = [...]string{
	KindInvalid: "invalid",
	KindNull:    "null",
	KindBoolean: "boolean",
	KindInt:     "int",
	KindLong:    "long",
	KindFloat:   "float",
	KindDouble:  "double",
	KindString:  "string",
	KindBytes:   "bytes",
	KindFixed:   "fixed",
	KindEnum:    "enum",
	KindRecord:  "record",
	KindArray:   "array",
	KindMap:     "map",
	KindUnion:   "union",
	KindInteger: "integer",
	KindNumber:  "number",
	KindObject:  "object",
	KindAny:     "any",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Field is one entry of a schema's field index: a field reachable from the top
// level through records (Avro records, possibly nullable; JSON Schema objects).
// Fields inside arrays and maps have no path and are not indexed. A Field is
// bound to its schema and works as an accessor on that schema's events only.
type Field struct {
	Path     string // '/'-separated, e.g. "customer/id"
	Kind     Kind
	Nullable bool // the field may be null: an Avro [null, T] union, or a JSON Schema type that includes "null"

	// Where the codec finds the value; which of these it uses is its own
	// business (Avro: slot and branches; JSON Schema: segs).
	schema *Schema
	slot   int32    // the value's fixed index in Event.vals, or -1 when the codec must look it up (see Event.slot)
	nullBr int32    // nullable in a union: the null branch
	segs   []string // the path split on '/'; for codecs that look fields up by name
}

// String describes the field's type, e.g. "nullable string".
func (f Field) String() string {
	if f.Nullable && f.Kind != KindNull {
		return "nullable " + f.Kind.String()
	}
	return f.Kind.String()
}

// IsString reports whether the field holds a string or a nullable string, the
// only types that may be PII, key or data-subject fields.
func (f Field) IsString() bool { return f.Kind == KindString }

// Schema is a compiled schema: its definition, fingerprint, field index and the
// decode plan used on every event. It is immutable and safe for concurrent use.
type Schema struct {
	ref         Ref
	refText     string // ref.String(), made once
	typ         SchemaType
	definition  string
	fingerprint string
	fields      []Field // see Fields
	byPath      map[string]int

	codec codec                // chosen by typ at compile time; see codec
	meta  [numMetaFields]Field // strmMeta fields, resolved once from metaPaths

	// decoders recycles scratch state between decodes; see decoder.
	decoders sync.Pool
	// mostValues is the most values an event decoded into a Slab took, so
	// that a slab's first event of this schema finds room in it too.
	mostValues atomic.Int32
}

// CompileSchema checks and compiles a schema definition. The top level must be
// an Avro record or a JSON Schema object with a strmMeta record/object shaped
// as docs/registry.md ("strmMeta") describes; every deviation is refused with
// a message naming strmMeta.<field>.
func CompileSchema(ref Ref, typ SchemaType, definition []byte) (*Schema, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	s := &Schema{ref: ref, refText: ref.String(), typ: typ, definition: string(definition)}
	// The one place the schema type is looked at: each compile function
	// sets the codec, fingerprint and field index.
	var err error
	switch typ {
	case Avro:
		err = compileAvro(s)
	case JSONSchema:
		err = compileJSONSchema(s)
	default:
		return nil, &DefinitionError{Field: "type", Msg: fmt.Sprintf("unknown schema type %d", uint8(typ)), kind: ErrInvalidSchema}
	}
	if err != nil {
		return nil, err
	}
	s.byPath = make(map[string]int, len(s.fields))
	for i := range s.fields {
		s.fields[i].schema = s
		s.byPath[s.fields[i].Path] = i
	}
	for m, path := range metaPaths {
		f, ok := s.Field(path)
		if !ok {
			// Unreachable: the compile functions have checked strmMeta. Refusing
			// the schema beats a panic on a user's definition.
			return nil, schemaError("strmMeta", "strmMeta: '%s' is not addressable", path)
		}
		s.meta[m] = f
	}
	return s, nil
}

// Ref returns the schema's ref.
func (s *Schema) Ref() Ref { return s.ref }

// RefString is Ref().String(), made once.
func (s *Schema) RefString() string { return s.refText }

// Type returns the schema type.
func (s *Schema) Type() SchemaType { return s.typ }

// Definition returns the definition text exactly as compiled.
func (s *Schema) Definition() string { return s.definition }

// Fingerprint identifies the definition's content. For Avro it is the
// CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form, printed as a
// signed decimal (a Java long, as the platform's SchemaNormalization showed it),
// so documentation and formatting changes do not change it. For JSON Schema it
// is the hex SHA-256 of the definition re-serialised with sorted keys and no
// insignificant whitespace (numbers and strings as written); see jsonCanonical.
func (s *Schema) Fingerprint() string { return s.fingerprint }

// DefaultSerialization is the serialization assumed when a producer names none:
// Avro binary for Avro schemas, JSON for JSON Schema.
func (s *Schema) DefaultSerialization() Serialization { return s.codec.serialization() }

// Fields returns the field index, parents before children: for Avro in
// schema order, for JSON Schema sorted by name within each object (compiled
// JSON Schemas keep no property order). The slice is shared; do not modify it.
func (s *Schema) Fields() []Field { return s.fields }

// Field returns the indexed field at path.
func (s *Schema) Field(path string) (Field, bool) {
	i, ok := s.byPath[path]
	if !ok {
		return Field{}, false
	}
	return s.fields[i], true
}

func schemaError(field, format string, args ...any) error {
	return &DefinitionError{Field: field, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidSchema}
}
