// Package engine compiles schemas and event contracts and holds the privacy
// semantics the pipeline runs (docs/pipeline.md): decode an event body
// against its schema, check it against its event contract (Validate),
// encrypt its PII fields (CompiledContract.Encrypt), and on the way out show
// it as a stream sees it (View.Apply for derived streams: consent filter,
// decryption, masking). It is a leaf: keys come in through the Encrypter and
// Decrypter interfaces, and the application layer (package app) does the
// storing and the reading. It speaks plain Go types; protobuf lives at the
// RPC edge.
//
// # Schemas
//
// CompileSchema accepts Avro (parsed with hamba/avro) and JSON Schema
// (drafts 4 to 2020-12, compiled with santhosh-tekuri/jsonschema; 2020-12
// when $schema is absent; external $refs are refused so a registered schema
// cannot make the server read files or fetch URLs). Every schema must have a
// top-level strmMeta record/object as docs/registry.md describes. The
// compiled Schema has a field index (Schema.Field) from '/'-separated paths
// such as "customer/id" to the field's kind, and a fingerprint
// (Schema.Fingerprint).
//
// # Codecs
//
// Everything that depends on the schema type sits behind one unexported
// interface, codec (codec.go): decoding a body into an event's values,
// encoding an event in the type's own serialization, rendering it as JSON,
// and finding or setting a field's value. CompileSchema picks the codec once
// from the schema type; nothing else in the package asks which type a schema
// is. Fields that a codec lays out at a fixed slot (all Avro fields) are read
// without a call through the interface, as reads are the hot path of Check,
// Encrypt and View.Apply. Adding a schema type means a compile function and
// a codec, in files of their own:
//
//	avro_plan.go          compile an Avro schema to a decode plan (avroPlan)
//	avro_binary.go        Avro binary, decoding and encoding
//	avro_json.go          Avro's lenient JSON form, decoding and rendering
//	avro_event.go         avroPlan as the codec
//	jsonschema_plan.go    compile a JSON Schema (jschPlan), its field index
//	jsonschema_json.go    JSON Schema events' JSON: decode, validate, render
//	jsonschema_event.go   jschPlan as the codec: fields found by path
//
// Names carry their format: a* (anode, afield) is the Avro plan, ajson* and
// bin* Avro's JSON and binary forms, jsch* JSON Schema. Shared by all:
// decode.go (the pooled decoder, limits, error paths), json_scan.go (the
// JSON scanner), event.go (values and the typed accessors), render.go
// (Encode, AppendJSON, JSON string escaping).
//
// # Events
//
// Schema.Decode turns one body into an *Event. For Avro, a decode plan is
// built once per schema; events are decoded straight into a flat slice of
// values without map[string]any or reflection. Records reachable from the top
// level without crossing an array or map have fixed slots, so a Field is a
// slot index and reading or replacing a PII value costs one slice access.
// Strings are substrings of one copy of the body. The events of a batch are
// decoded into a Slab (ValidateInto, slab.go): their values share pooled
// chunks, each event's cut to its length, and go back to the pool when the
// batch releases it. Accepted serializations:
//   - Avro binary: one bare datum, no container or header;
//   - lenient JSON for Avro schemas (the platform's curl examples): nullable
//     fields may be omitted, union values may be bare or type-wrapped;
//   - JSON for JSON Schema, validated against the schema.
//
// Decoding refuses invalid UTF-8, nesting deeper than 64, trailing data,
// unknown and repeated fields, naming the offending field. Schema.DecodeStored
// reads back events this package encoded, without JSON Schema validation
// (ciphertext need not satisfy a PII field's pattern or format). Events are
// re-encoded with Event.Encode (Avro binary or JSON, the schema's own
// serialization) and rendered for egress with Event.AppendJSON (plain JSON,
// unions unwrapped, schema field order).
//
// # Contracts
//
// CompileContract checks a Contract against its schema (key, PII and
// data-subject fields must exist and be strings; levels >= 0; validations
// must compile) and CompiledContract.Check applies it to an event, with the
// platform's rejection wording. Check also accepts the event's consent levels
// (at most 64, each 0 to 1023; consent.go) and leaves them sorted and
// deduplicated; the decoder already refuses a 65th level while decoding. Validation types form a small registry;
// "regex" (RE2, MatchString semantics: the pattern's own anchors decide) is
// the only one; ^.+$ and ^.*$ are answered without the regexp engine
// (validator.go).
//
// # Derived streams
//
// View says which events a derived stream keeps and what it shows of them
// (consent CUMULATIVE or GRANULAR, masked fields); View.Apply turns a stored
// event into that view in place (derive.go). Semantics are tested as
// datadriven files in testdata (decode, check, derive).
//
// # Errors
//
// All sentinels are in errors.go. Bad definitions yield *DefinitionError
// (ErrInvalidRef, ErrInvalidSchema, ErrInvalidContract, ErrInvalidView); bad
// events yield *RejectError (ErrInvalidEvent when decoding fails, ErrRejected
// when a contract rule fails). Their messages are meant for the user as they
// stand. A RejectError may quote the rejected
// value, so it may be returned to the event's producer but must never be
// logged or stored.
package engine
