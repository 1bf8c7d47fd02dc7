// Package engine compiles schemas and event contracts and runs the privacy
// pipeline on them (SPEC §3, §6): decode an event body against its schema,
// check it against its event contract (Validate), encrypt its PII fields
// (CompiledContract.Encrypt), append it (Pipeline.Ingest, over the log and
// keys packages), and on the way out show it as a stream sees it
// (Pipeline.Render, View.Apply for derived streams: consent filter,
// decryption, masking). It speaks plain Go types; protobuf lives at the RPC
// edge.
//
// # Schemas
//
// CompileSchema accepts Avro (parsed with hamba/avro) and JSON Schema
// (drafts 4 to 2020-12, compiled with santhosh-tekuri/jsonschema; 2020-12
// when $schema is absent; external $refs are refused so a registered schema
// cannot make the server read files or fetch URLs). Every schema must have a
// top-level strmMeta record/object as SPEC §2 describes. The compiled Schema
// has a field index (Schema.Field) from '/'-separated paths such as
// "customer/id" to the field's kind, and a fingerprint (Schema.Fingerprint).
//
// # Events
//
// Schema.Decode turns one body into an *Event. For Avro, a decode plan is
// built once per schema; events are decoded straight into a flat slice of
// values without map[string]any or reflection. Records reachable from the top
// level without crossing an array or map have fixed slots, so a Field is a
// slot index and reading or replacing a PII value costs one slice access.
// Strings are substrings of one copy of the body. Accepted serializations:
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
// platform's rejection wording. Validation types form a small registry;
// "regex" (RE2, MatchString semantics: the pattern's own anchors decide) is
// the only one.
//
// # Errors
//
// Bad definitions yield *DefinitionError (ErrInvalidRef, ErrInvalidSchema,
// ErrInvalidContract); bad events yield *RejectError (ErrInvalidEvent when
// decoding fails, ErrRejected when a contract rule fails). Their messages are
// meant for the user as they stand. A RejectError may quote the rejected
// value, so it may be returned to the event's producer but must never be
// logged or stored.
package engine
