package catalog_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// Fingerprints of tinyAvro and tinyJSON. They identify a definition across
// restarts, so they must not change from one build to the next.
const (
	tinyAvroFingerprint = "-3898314939050319374"
	tinyJSONFingerprint = "6310f4cd216ee221d146bc0052a9158f4542d78648bb581f437f7b043a331a86"
)

// schemaRefs returns the refs of ss.
func schemaRefs(ss []*catalog.Schema) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Ref().String())
	}
	return out
}

func contractRefs(cs []*catalog.Contract) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Ref().String())
	}
	return out
}

func mustSchema(t testing.TB, e *env, ref string, typ engine.SchemaType, def string, draft bool) *catalog.Schema {
	t.Helper()
	s, created, err := e.reg.CreateSchema(mustRef(t, ref), typ, []byte(def), draft)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("schema %s: created false", ref)
	}
	return s
}

func mustContract(t testing.TB, e *env, c engine.Contract, draft bool) *catalog.Contract {
	t.Helper()
	cc, created, err := e.reg.CreateContract(c, draft)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("contract %s: created false", c.Ref)
	}
	return cc
}

func TestCreateSchema(t *testing.T) {
	tests := []struct {
		name  string
		ref   engine.Ref
		typ   engine.SchemaType
		def   string
		draft bool

		state       catalog.State
		fingerprint string
		kind        error
		err         string
	}{
		{name: "avro", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro, def: tinyAvro,
			state: catalog.Active, fingerprint: tinyAvroFingerprint},
		{name: "avro draft", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro, def: tinyAvro, draft: true,
			state: catalog.Draft, fingerprint: tinyAvroFingerprint},
		{name: "json schema", ref: engine.Ref{Handle: "acme", Name: "tiny-json", Version: "2.10.0"}, typ: engine.JSONSchema, def: tinyJSON,
			state: catalog.Active, fingerprint: tinyJSONFingerprint},
		{name: "json schema draft", ref: engine.Ref{Handle: "acme", Name: "tiny-json", Version: "2.10.0"}, typ: engine.JSONSchema, def: tinyJSON, draft: true,
			state: catalog.Draft, fingerprint: tinyJSONFingerprint},

		{name: "version not semver", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0"}, typ: engine.Avro, def: tinyAvro,
			kind: engine.ErrInvalidRef, err: "invalid ref 'acme/tiny/1.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{name: "version with leading zero", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.01.0"}, typ: engine.Avro, def: tinyAvro,
			kind: engine.ErrInvalidRef, err: "invalid ref 'acme/tiny/1.01.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{name: "empty handle", ref: engine.Ref{Name: "tiny", Version: "1.0.0"}, typ: engine.Avro, def: tinyAvro,
			kind: engine.ErrInvalidRef, err: "invalid ref '/tiny/1.0.0': handle must not be empty"},
		{name: "bad name", ref: engine.Ref{Handle: "acme", Name: "ti ny", Version: "1.0.0"}, typ: engine.Avro, def: tinyAvro,
			kind: engine.ErrInvalidRef, err: "invalid ref 'acme/ti ny/1.0.0': name may contain only letters, digits, '.', '_' and '-'"},
		{name: "unknown type", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: 0, def: tinyAvro,
			kind: engine.ErrInvalidSchema, err: "unknown schema type 0"},
		{name: "avro without strmMeta", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro,
			def:  `{"type": "record", "name": "Tiny", "fields": [{"name": "session", "type": "string"}]}`,
			kind: engine.ErrInvalidSchema, err: "strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{name: "avro strmMeta incomplete", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro,
			def: `{"type": "record", "name": "Tiny", "fields": [{"name": "strmMeta", "type": {"type": "record", "name": "StrmMeta", "fields": [
				{"name": "eventContractRef", "type": "string"}]}}]}`,
			kind: engine.ErrInvalidSchema, err: "strmMeta.nonce: missing, expected nullable int\nstrmMeta.timestamp: missing, expected nullable long\nstrmMeta.keyLink: missing, expected nullable string\nstrmMeta.consentLevels: missing, expected array of int"},
		{name: "avro not JSON", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro, def: `{"type": "record"`,
			kind: engine.ErrInvalidSchema, err: "definition is not valid JSON: unexpected end of JSON input"},
		{name: "avro empty", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.Avro, def: ``,
			kind: engine.ErrInvalidSchema, err: "definition is not valid JSON: unexpected end of JSON input"},
		{name: "json schema without strmMeta", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.JSONSchema,
			def:  `{"type": "object", "properties": {"session": {"type": "string"}}}`,
			kind: engine.ErrInvalidSchema, err: "strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{name: "avro definition as json schema", ref: engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"}, typ: engine.JSONSchema, def: tinyAvro,
			kind: engine.ErrInvalidSchema, err: "invalid JSON Schema: at '/type': got string, want array; value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s, created, err := e.reg.CreateSchema(tt.ref, tt.typ, []byte(tt.def), tt.draft)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
				if s != nil || created {
					t.Errorf("refused schema returned %v, created %v", s, created)
				}
				// Nothing refused is stored.
				for range 2 {
					if got := e.reg.Schemas(catalog.SchemaFilter{}); len(got) != 0 {
						t.Errorf("schemas after a refusal: %q", schemaRefs(got))
					}
					e.reopen(t)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !created {
				t.Error("created false for a new schema")
			}
			check := func(s *catalog.Schema) {
				t.Helper()
				if s.Ref() != tt.ref || s.Type() != tt.typ || s.Definition() != tt.def || s.State != tt.state ||
					s.Fingerprint() != tt.fingerprint || !s.CreateTime.Equal(t0) || s.CreateTime.Location() != time.UTC {
					t.Errorf("schema %s %s %s fingerprint %s created %s, want %s %s %s fingerprint %s created %s",
						s.Ref(), s.Type(), s.State, s.Fingerprint(), s.CreateTime, tt.ref, tt.typ, tt.state, tt.fingerprint, t0.UTC())
				}
				if s.Definition() != tt.def {
					t.Errorf("definition:\n got %s\nwant %s", s.Definition(), tt.def)
				}
			}
			check(s)
			got, err := e.reg.Schema(tt.ref.String())
			if err != nil {
				t.Fatal(err)
			}
			if got != s {
				t.Errorf("Schema returned %p, CreateSchema %p", got, s)
			}
			e.reopen(t)
			got, err = e.reg.Schema(tt.ref.String())
			if err != nil {
				t.Fatal(err)
			}
			check(got)
		})
	}
}

// TestCreateSchemaAgain registers a ref that is already registered: the same
// definition (by fingerprint and type) is an idempotent success that changes
// nothing, anything else is refused.
func TestCreateSchemaAgain(t *testing.T) {
	const ref = "acme/tiny/1.0.0"
	exists := "schema acme/tiny/1.0.0 is already registered with another definition; registered versions are immutable, so register the change as a new version"
	tests := []struct {
		name  string
		typ   engine.SchemaType
		def   string
		draft bool
		err   string // ErrExists when set
	}{
		{name: "same text", typ: engine.Avro, def: tinyAvro},
		{name: "same text as draft", typ: engine.Avro, def: tinyAvro, draft: true},
		{name: "other whitespace", typ: engine.Avro, def: strings.Join(strings.Fields(tinyAvro), "")},
		{name: "field docs added", typ: engine.Avro,
			def: strings.Replace(tinyAvro, `{"name": "session", "type": "string"}`, `{"name": "session", "type": "string", "doc": "a session"}`, 1)},
		{name: "field added", typ: engine.Avro, err: exists,
			def: strings.Replace(tinyAvro, `{"name": "session", "type": "string"},`, `{"name": "session", "type": "string"}, {"name": "extra", "type": "string"},`, 1)},
		{name: "field type changed", typ: engine.Avro, err: exists,
			def: strings.Replace(tinyAvro, `{"name": "count", "type": "int"}`, `{"name": "count", "type": "long"}`, 1)},
		{name: "record renamed", typ: engine.Avro, err: exists, def: strings.Replace(tinyAvro, `"name": "Tiny"`, `"name": "Small"`, 1)},
		{name: "json schema", typ: engine.JSONSchema, def: tinyJSON, err: exists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			first := mustSchema(t, e, ref, engine.Avro, tinyAvro, false)
			e.clock.Advance(time.Hour)
			for i := range 2 { // before and after a reopen
				s, created, err := e.reg.CreateSchema(mustRef(t, ref), tt.typ, []byte(tt.def), tt.draft)
				if tt.err != "" {
					wantErr(t, err, catalog.ErrExists, tt.err)
					if s != nil || created {
						t.Errorf("refused schema returned %v, created %v", s, created)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					if created {
						t.Error("created true for a registered schema")
					}
					if i == 0 && s != first {
						t.Errorf("got %p, want the registered schema %p", s, first)
					}
				}
				// The first registration stands: definition text, state and
				// creation time.
				got, err := e.reg.Schema(ref)
				if err != nil {
					t.Fatal(err)
				}
				if got.Definition() != tinyAvro || got.Type() != engine.Avro || got.State != catalog.Active || !got.CreateTime.Equal(t0) {
					t.Errorf("registered schema became %s %s created %s:\n%s", got.Type(), got.State, got.CreateTime, got.Definition())
				}
				if n := len(e.reg.Schemas(catalog.SchemaFilter{})); n != 1 {
					t.Errorf("%d schemas, want 1", n)
				}
				e.reopen(t)
			}
		})
	}
}

func TestSchemaLookup(t *testing.T) {
	e := newEnv(t)
	// Registered out of order: Schemas sorts by ref.
	mustSchema(t, e, "beta/tiny/2.0.0", engine.Avro, tinyAvro, false)
	mustSchema(t, e, "acme/tiny/1.1.0", engine.Avro, tinyAvro, true)
	mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
	mustSchema(t, e, "acme/tiny-json/1.0.0", engine.JSONSchema, tinyJSON, false)
	mustSchema(t, e, "acme/other/1.0.0", engine.Avro, tinyAvro, false)
	if _, err := e.reg.SetSchemaState("beta/tiny/2.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter catalog.SchemaFilter
		want   []string
	}{
		{"all", catalog.SchemaFilter{}, []string{"acme/other/1.0.0", "acme/tiny-json/1.0.0", "acme/tiny/1.0.0", "acme/tiny/1.1.0", "beta/tiny/2.0.0"}},
		{"handle", catalog.SchemaFilter{Handle: "acme"}, []string{"acme/other/1.0.0", "acme/tiny-json/1.0.0", "acme/tiny/1.0.0", "acme/tiny/1.1.0"}},
		{"name", catalog.SchemaFilter{Name: "tiny"}, []string{"acme/tiny/1.0.0", "acme/tiny/1.1.0", "beta/tiny/2.0.0"}},
		{"handle and name", catalog.SchemaFilter{Handle: "beta", Name: "tiny"}, []string{"beta/tiny/2.0.0"}},
		{"draft", catalog.SchemaFilter{State: catalog.Draft}, []string{"acme/tiny/1.1.0"}},
		{"active", catalog.SchemaFilter{State: catalog.Active}, []string{"acme/other/1.0.0", "acme/tiny-json/1.0.0", "acme/tiny/1.0.0"}},
		{"archived", catalog.SchemaFilter{State: catalog.Archived}, []string{"beta/tiny/2.0.0"}},
		{"avro", catalog.SchemaFilter{Type: engine.Avro}, []string{"acme/other/1.0.0", "acme/tiny/1.0.0", "acme/tiny/1.1.0", "beta/tiny/2.0.0"}},
		{"json schema", catalog.SchemaFilter{Type: engine.JSONSchema}, []string{"acme/tiny-json/1.0.0"}},
		{"all fields", catalog.SchemaFilter{Handle: "acme", Name: "tiny", State: catalog.Active, Type: engine.Avro}, []string{"acme/tiny/1.0.0"}},
		{"name is not a prefix", catalog.SchemaFilter{Name: "tin"}, nil},
		{"handle is case-sensitive", catalog.SchemaFilter{Handle: "ACME"}, nil},
		{"no match", catalog.SchemaFilter{Handle: "beta", State: catalog.Active}, nil},
	}
	for i := range 2 {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := schemaRefs(e.reg.Schemas(tt.filter)); !slices.Equal(got, tt.want) {
					t.Errorf("reopened %d times: got %q, want %q", i, got, tt.want)
				}
			})
		}
		e.reopen(t)
	}

	for _, ref := range []string{"acme/nope/1.0.0", "acme/tiny/1.0", "", "ACME/tiny/1.0.0"} {
		s, err := e.reg.Schema(ref)
		wantErr(t, err, catalog.ErrNotFound, "schema "+ref+" not found")
		if s != nil {
			t.Errorf("Schema(%q) returned %v", ref, s)
		}
	}
}

// TestSchemaState moves a schema from each state to each target state.
func TestSchemaState(t *testing.T) {
	const ref = "acme/tiny/1.0.0"
	tests := []struct {
		from, to catalog.State
		err      string // ErrInvalid when set
	}{
		{from: catalog.Draft, to: catalog.Active},
		{from: catalog.Draft, to: catalog.Archived},
		{from: catalog.Draft, to: catalog.Draft, err: "schema acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Active, to: catalog.Active},
		{from: catalog.Active, to: catalog.Archived},
		{from: catalog.Active, to: catalog.Draft, err: "schema acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Archived, to: catalog.Active},
		{from: catalog.Archived, to: catalog.Archived},
		{from: catalog.Archived, to: catalog.Draft, err: "schema acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Active, to: 0, err: "schema acme/tiny/1.0.0: cannot move to state State(0); activate or archive it"},
		{from: catalog.Active, to: 4, err: "schema acme/tiny/1.0.0: cannot move to state State(4); activate or archive it"},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+" to "+tt.to.String(), func(t *testing.T) {
			e := newEnv(t)
			mustSchema(t, e, ref, engine.Avro, tinyAvro, tt.from == catalog.Draft)
			if tt.from == catalog.Archived {
				if _, err := e.reg.SetSchemaState(ref, catalog.Archived); err != nil {
					t.Fatal(err)
				}
			}
			before, err := e.reg.Schema(ref)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Hour)
			s, err := e.reg.SetSchemaState(ref, tt.to)
			want := tt.to
			if tt.err != "" {
				wantErr(t, err, catalog.ErrInvalid, tt.err)
				want = tt.from
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if s.State != tt.to {
					t.Errorf("returned state %s, want %s", s.State, tt.to)
				}
			}
			// A *Schema is a snapshot: a change replaces it.
			if before.State != tt.from {
				t.Errorf("the schema held from before the change is %s now, want %s", before.State, tt.from)
			}
			for range 2 {
				got, err := e.reg.Schema(ref)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != want || !got.CreateTime.Equal(t0) || got.Definition() != tinyAvro {
					t.Errorf("schema is %s created %s, want %s created %s", got.State, got.CreateTime, want, t0)
				}
				if n := len(e.reg.Schemas(catalog.SchemaFilter{State: want})); n != 1 {
					t.Errorf("%d schemas in state %s, want 1", n, want)
				}
				e.reopen(t)
			}
		})
	}

	t.Run("unknown ref", func(t *testing.T) {
		e := newEnv(t)
		s, err := e.reg.SetSchemaState("acme/nope/1.0.0", catalog.Active)
		wantErr(t, err, catalog.ErrNotFound, "schema acme/nope/1.0.0 not found")
		if s != nil {
			t.Errorf("got %v", s)
		}
	})
}

func TestActiveSchema(t *testing.T) {
	e := newEnv(t)
	mustSchema(t, e, "acme/draft/1.0.0", engine.Avro, tinyAvro, true)
	mustSchema(t, e, "acme/active/1.0.0", engine.Avro, tinyAvro, false)
	mustSchema(t, e, "acme/archived/1.0.0", engine.Avro, tinyAvro, false)
	if _, err := e.reg.SetSchemaState("acme/archived/1.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		kind error
		err  string
	}{
		{ref: "acme/active/1.0.0"},
		{ref: "acme/draft/1.0.0", kind: catalog.ErrState,
			err: "schema acme/draft/1.0.0 is DRAFT and accepts no events; activate it with `strmlocal activate schema acme/draft/1.0.0`"},
		{ref: "acme/archived/1.0.0", kind: catalog.ErrState,
			err: "schema acme/archived/1.0.0 is ARCHIVED and accepts no events; activate it with `strmlocal activate schema acme/archived/1.0.0`"},
		{ref: "acme/nope/1.0.0", kind: catalog.ErrNotFound, err: "schema acme/nope/1.0.0 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			s, err := e.reg.ActiveSchema(tt.ref)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
				if s != nil {
					t.Errorf("got %v", s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Ref().String() != tt.ref || s.Definition() != tinyAvro {
				t.Errorf("got schema %s", s.Ref())
			}
		})
	}
	// Activating an archived schema makes it accept events again.
	if _, err := e.reg.SetSchemaState("acme/archived/1.0.0", catalog.Active); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.ActiveSchema("acme/archived/1.0.0"); err != nil {
		t.Errorf("after activating: %v", err)
	}
}

// tinyContract is a contract for tinyAvro that uses every field.
func tinyContract() engine.Contract {
	return engine.Contract{
		Ref:              engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"},
		SchemaRef:        engine.Ref{Handle: "acme", Name: "tiny", Version: "1.0.0"},
		KeyField:         "session",
		PIIFields:        map[string]int{"customer/email": 1, "session": 0},
		Validations:      []engine.Validation{{Field: "customer/email", Type: "regex", Value: ".+@.+"}, {Field: "session", Type: "regex", Value: "^s"}},
		DataSubjectField: "customer/email",
	}
}

func TestCreateContract(t *testing.T) {
	with := func(f func(*engine.Contract)) engine.Contract {
		c := tinyContract()
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		c     engine.Contract
		draft bool

		state catalog.State
		kind  error
		err   string
	}{
		{name: "active", c: tinyContract(), state: catalog.Active},
		{name: "draft", c: tinyContract(), draft: true, state: catalog.Draft},
		{name: "key field only", state: catalog.Active,
			c: engine.Contract{Ref: mustRef(t, "acme/min/1.0.0"), SchemaRef: mustRef(t, "acme/tiny/1.0.0"), KeyField: "session"}},
		{name: "draft schema", state: catalog.Active,
			c: with(func(c *engine.Contract) { c.SchemaRef = mustRef(t, "acme/tiny-draft/1.0.0") })},
		{name: "archived schema", state: catalog.Active,
			c: with(func(c *engine.Contract) { c.SchemaRef = mustRef(t, "acme/tiny-archived/1.0.0") })},

		{name: "schema missing", kind: catalog.ErrNotFound,
			c:   with(func(c *engine.Contract) { c.SchemaRef = mustRef(t, "acme/nope/1.0.0") }),
			err: "schemaRef: schema acme/nope/1.0.0 not found; register it first with `strmlocal create schema`"},
		{name: "schema missing in this version", kind: catalog.ErrNotFound,
			c:   with(func(c *engine.Contract) { c.SchemaRef = mustRef(t, "acme/tiny/1.0.1") }),
			err: "schemaRef: schema acme/tiny/1.0.1 not found; register it first with `strmlocal create schema`"},
		{name: "schema ref invalid", kind: engine.ErrInvalidRef,
			c:   with(func(c *engine.Contract) { c.SchemaRef.Version = "1" }),
			err: "schemaRef: invalid ref 'acme/tiny/1': version must be semver X.Y.Z (numbers without leading zeros)"},
		{name: "schema ref missing", kind: engine.ErrInvalidRef,
			c:   with(func(c *engine.Contract) { c.SchemaRef = engine.Ref{} }),
			err: "schemaRef: invalid ref '//': handle must not be empty"},
		{name: "ref invalid", kind: engine.ErrInvalidRef,
			c:   with(func(c *engine.Contract) { c.Ref.Handle = "ac/me" }),
			err: "invalid ref 'ac/me/tiny/1.0.0': handle may contain only letters, digits, '.', '_' and '-'"},
		{name: "ref missing", kind: engine.ErrInvalidRef,
			c:   with(func(c *engine.Contract) { c.Ref = engine.Ref{} }),
			err: "invalid ref '//': handle must not be empty"},
		{name: "key field missing", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.KeyField = "" }),
			err: "keyField: is required"},
		{name: "key field not in schema", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.KeyField = "nope" }),
			err: "keyField: 'nope' does not exist in schema 'acme/tiny/1.0.0'"},
		{name: "key field not a string", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.KeyField = "count" }),
			err: "keyField: 'count' must be a string or nullable string, but is int"},
		{name: "pii field in strmMeta", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.PIIFields = map[string]int{"strmMeta/keyLink": 1} }),
			err: "piiFields: 'strmMeta/keyLink' is part of strmMeta, which is never encrypted"},
		{name: "pii level negative", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.PIIFields = map[string]int{"session": -1} }),
			err: "piiFields: 'session' has consent level -1, but levels must be >= 0"},
		{name: "validation of unknown type", kind: engine.ErrInvalidContract,
			c: with(func(c *engine.Contract) {
				c.Validations = []engine.Validation{{Field: "session", Type: "glob", Value: "s*"}}
			}),
			err: "validations[0]: unknown type 'glob' for field 'session' (known types: regex)"},
		{name: "validation regex invalid", kind: engine.ErrInvalidContract,
			c: with(func(c *engine.Contract) {
				c.Validations = []engine.Validation{{Field: "session", Type: "regex", Value: "("}}
			}),
			err: "validations[0]: regex '(' for field 'session' does not compile: error parsing regexp: missing closing ): `(`"},
		{name: "data subject not a string", kind: engine.ErrInvalidContract,
			c:   with(func(c *engine.Contract) { c.DataSubjectField = "customer" }),
			err: "dataSubjectField: 'customer' must be a string or nullable string, but is record"},
		{name: "several problems", kind: engine.ErrInvalidContract,
			c: with(func(c *engine.Contract) {
				c.KeyField = "count"
				c.PIIFields = map[string]int{"nope": 1, "customer/email": -2}
			}),
			err: "keyField: 'count' must be a string or nullable string, but is int\npiiFields: 'customer/email' has consent level -2, but levels must be >= 0\npiiFields: 'nope' does not exist in schema 'acme/tiny/1.0.0'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
			mustSchema(t, e, "acme/tiny-draft/1.0.0", engine.Avro, tinyAvro, true)
			mustSchema(t, e, "acme/tiny-archived/1.0.0", engine.Avro, tinyAvro, false)
			if _, err := e.reg.SetSchemaState("acme/tiny-archived/1.0.0", catalog.Archived); err != nil {
				t.Fatal(err)
			}
			cc, created, err := e.reg.CreateContract(tt.c, tt.draft)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
				if cc != nil || created {
					t.Errorf("refused contract returned %v, created %v", cc, created)
				}
				for range 2 {
					if got := e.reg.Contracts(catalog.ContractFilter{}); len(got) != 0 {
						t.Errorf("contracts after a refusal: %q", contractRefs(got))
					}
					e.reopen(t)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !created {
				t.Error("created false for a new contract")
			}
			check := func(cc *catalog.Contract) {
				t.Helper()
				if !reflect.DeepEqual(cc.Contract(), tt.c) {
					t.Errorf("contract:\n got %+v\nwant %+v", cc.Contract(), tt.c)
				}
				if cc.Schema().Ref() != tt.c.SchemaRef || cc.State != tt.state || !cc.CreateTime.Equal(t0) || cc.CreateTime.Location() != time.UTC {
					t.Errorf("contract for schema %s %s created %s, want %s %s created %s", cc.Schema().Ref(), cc.State, cc.CreateTime, tt.c.SchemaRef, tt.state, t0.UTC())
				}
			}
			check(cc)
			e.reopen(t)
			got, err := e.reg.Contract(tt.c.Ref.String())
			if err != nil {
				t.Fatal(err)
			}
			check(got)
		})
	}
}

// TestCreateContractAgain registers a contract ref that is already
// registered: an equal contract is an idempotent success, anything else is
// refused.
func TestCreateContractAgain(t *testing.T) {
	exists := "event contract acme/tiny/1.0.0 is already registered with another definition; registered versions are immutable, so register the change as a new version"
	minimal := engine.Contract{Ref: mustRef(t, "acme/tiny/1.0.0"), SchemaRef: mustRef(t, "acme/tiny/1.0.0"), KeyField: "session"}
	with := func(base engine.Contract, f func(*engine.Contract)) engine.Contract {
		base.PIIFields = maps.Clone(base.PIIFields)
		base.Validations = slices.Clone(base.Validations)
		f(&base)
		return base
	}
	tests := []struct {
		name        string
		first, then engine.Contract
		draft       bool
		err         string // ErrExists when set
	}{
		{name: "equal", first: tinyContract(), then: tinyContract()},
		{name: "equal as draft", first: tinyContract(), then: tinyContract(), draft: true},
		{name: "empty and absent lists are equal", first: minimal,
			then: with(minimal, func(c *engine.Contract) { c.PIIFields, c.Validations = map[string]int{}, []engine.Validation{} })},
		{name: "absent and empty lists are equal",
			first: with(minimal, func(c *engine.Contract) { c.PIIFields, c.Validations = map[string]int{}, []engine.Validation{} }), then: minimal},
		{name: "other schema", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { c.SchemaRef = mustRef(t, "acme/tiny/1.1.0") })},
		{name: "other key field", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { c.KeyField = "customer/email" })},
		{name: "other pii level", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { c.PIIFields["session"] = 2 })},
		{name: "pii field dropped", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { delete(c.PIIFields, "session") })},
		{name: "validations reordered", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { slices.Reverse(c.Validations) })},
		{name: "other validation value", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { c.Validations[0].Value = "@" })},
		{name: "data subject dropped", first: tinyContract(), err: exists,
			then: with(tinyContract(), func(c *engine.Contract) { c.DataSubjectField = "" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
			mustSchema(t, e, "acme/tiny/1.1.0", engine.Avro, tinyAvro, false)
			first := mustContract(t, e, tt.first, false)
			e.clock.Advance(time.Hour)
			for i := range 2 { // before and after a reopen
				cc, created, err := e.reg.CreateContract(tt.then, tt.draft)
				if tt.err != "" {
					wantErr(t, err, catalog.ErrExists, tt.err)
					if cc != nil || created {
						t.Errorf("refused contract returned %v, created %v", cc, created)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					if created {
						t.Error("created true for a registered contract")
					}
					if i == 0 && cc != first {
						t.Errorf("got %p, want the registered contract %p", cc, first)
					}
				}
				got, err := e.reg.Contract("acme/tiny/1.0.0")
				if err != nil {
					t.Fatal(err)
				}
				// Stored, an empty list reads back absent.
				if !reflect.DeepEqual(normContract(got.Contract()), normContract(tt.first)) || got.State != catalog.Active || !got.CreateTime.Equal(t0) {
					t.Errorf("registered contract became %+v %s created %s", got.Contract(), got.State, got.CreateTime)
				}
				e.reopen(t)
			}
		})
	}
}

// normContract makes empty lists absent.
func normContract(c engine.Contract) engine.Contract {
	if len(c.PIIFields) == 0 {
		c.PIIFields = nil
	}
	if len(c.Validations) == 0 {
		c.Validations = nil
	}
	return c
}

func TestContractLookup(t *testing.T) {
	e := newEnv(t)
	mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
	mustSchema(t, e, "acme/tiny/1.1.0", engine.Avro, tinyAvro, false)
	contract := func(ref, schemaRef string) engine.Contract {
		return engine.Contract{Ref: mustRef(t, ref), SchemaRef: mustRef(t, schemaRef), KeyField: "session"}
	}
	mustContract(t, e, contract("beta/tiny/1.0.0", "acme/tiny/1.1.0"), false)
	mustContract(t, e, contract("acme/tiny/1.1.0", "acme/tiny/1.1.0"), true)
	mustContract(t, e, contract("acme/tiny/1.0.0", "acme/tiny/1.0.0"), false)
	mustContract(t, e, contract("acme/other/1.0.0", "acme/tiny/1.0.0"), false)
	if _, err := e.reg.SetContractState("beta/tiny/1.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter catalog.ContractFilter
		want   []string
	}{
		{"all", catalog.ContractFilter{}, []string{"acme/other/1.0.0", "acme/tiny/1.0.0", "acme/tiny/1.1.0", "beta/tiny/1.0.0"}},
		{"handle", catalog.ContractFilter{Handle: "acme"}, []string{"acme/other/1.0.0", "acme/tiny/1.0.0", "acme/tiny/1.1.0"}},
		{"name", catalog.ContractFilter{Name: "tiny"}, []string{"acme/tiny/1.0.0", "acme/tiny/1.1.0", "beta/tiny/1.0.0"}},
		{"draft", catalog.ContractFilter{State: catalog.Draft}, []string{"acme/tiny/1.1.0"}},
		{"active", catalog.ContractFilter{State: catalog.Active}, []string{"acme/other/1.0.0", "acme/tiny/1.0.0"}},
		{"archived", catalog.ContractFilter{State: catalog.Archived}, []string{"beta/tiny/1.0.0"}},
		{"schema ref", catalog.ContractFilter{SchemaRef: "acme/tiny/1.1.0"}, []string{"acme/tiny/1.1.0", "beta/tiny/1.0.0"}},
		{"schema ref and state", catalog.ContractFilter{SchemaRef: "acme/tiny/1.0.0", State: catalog.Active, Name: "other"}, []string{"acme/other/1.0.0"}},
		{"unknown schema ref", catalog.ContractFilter{SchemaRef: "acme/tiny"}, nil},
	}
	for i := range 2 {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := contractRefs(e.reg.Contracts(tt.filter)); !slices.Equal(got, tt.want) {
					t.Errorf("reopened %d times: got %q, want %q", i, got, tt.want)
				}
			})
		}
		e.reopen(t)
	}
	c, err := e.reg.Contract("acme/nope/1.0.0")
	wantErr(t, err, catalog.ErrNotFound, "event contract acme/nope/1.0.0 not found")
	if c != nil {
		t.Errorf("got %v", c)
	}
}

func TestContractState(t *testing.T) {
	const ref = "acme/tiny/1.0.0"
	tests := []struct {
		from, to catalog.State
		err      string // ErrInvalid when set
	}{
		{from: catalog.Draft, to: catalog.Active},
		{from: catalog.Draft, to: catalog.Archived},
		{from: catalog.Draft, to: catalog.Draft, err: "event contract acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Active, to: catalog.Active},
		{from: catalog.Active, to: catalog.Archived},
		{from: catalog.Active, to: catalog.Draft, err: "event contract acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Archived, to: catalog.Active},
		{from: catalog.Archived, to: catalog.Archived},
		{from: catalog.Archived, to: catalog.Draft, err: "event contract acme/tiny/1.0.0: cannot move to state DRAFT; activate or archive it"},
		{from: catalog.Active, to: 0, err: "event contract acme/tiny/1.0.0: cannot move to state State(0); activate or archive it"},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+" to "+tt.to.String(), func(t *testing.T) {
			e := newEnv(t)
			mustSchema(t, e, ref, engine.Avro, tinyAvro, false)
			mustContract(t, e, tinyContract(), tt.from == catalog.Draft)
			if tt.from == catalog.Archived {
				if _, err := e.reg.SetContractState(ref, catalog.Archived); err != nil {
					t.Fatal(err)
				}
			}
			before, err := e.reg.Contract(ref)
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.reg.SetContractState(ref, tt.to)
			want := tt.to
			if tt.err != "" {
				wantErr(t, err, catalog.ErrInvalid, tt.err)
				want = tt.from
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if c.State != tt.to {
					t.Errorf("returned state %s, want %s", c.State, tt.to)
				}
			}
			if before.State != tt.from {
				t.Errorf("the contract held from before the change is %s now, want %s", before.State, tt.from)
			}
			for range 2 {
				got, err := e.reg.Contract(ref)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != want || !reflect.DeepEqual(got.Contract(), tinyContract()) {
					t.Errorf("contract is %s %+v, want %s", got.State, got.Contract(), want)
				}
				// The schema's state is its own.
				if s, err := e.reg.Schema(ref); err != nil || s.State != catalog.Active {
					t.Errorf("schema: %v, %v", s, err)
				}
				e.reopen(t)
			}
		})
	}

	t.Run("unknown ref", func(t *testing.T) {
		e := newEnv(t)
		c, err := e.reg.SetContractState("acme/nope/1.0.0", catalog.Archived)
		wantErr(t, err, catalog.ErrNotFound, "event contract acme/nope/1.0.0 not found")
		if c != nil {
			t.Errorf("got %v", c)
		}
	})
}

func TestActiveContract(t *testing.T) {
	e := newEnv(t)
	mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
	mustSchema(t, e, "acme/draft/1.0.0", engine.Avro, tinyAvro, true)
	contract := func(ref, schemaRef string) engine.Contract {
		return engine.Contract{Ref: mustRef(t, ref), SchemaRef: mustRef(t, schemaRef), KeyField: "session"}
	}
	mustContract(t, e, contract("acme/active/1.0.0", "acme/tiny/1.0.0"), false)
	mustContract(t, e, contract("acme/draft/1.0.0", "acme/tiny/1.0.0"), true)
	mustContract(t, e, contract("acme/archived/1.0.0", "acme/tiny/1.0.0"), false)
	mustContract(t, e, contract("acme/of-draft-schema/1.0.0", "acme/draft/1.0.0"), false)
	if _, err := e.reg.SetContractState("acme/archived/1.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		kind error
		err  string
	}{
		{ref: "acme/active/1.0.0"},
		// Only the contract's own state counts; ingest checks the schema's.
		{ref: "acme/of-draft-schema/1.0.0"},
		{ref: "acme/draft/1.0.0", kind: catalog.ErrState, err: "event contract acme/draft/1.0.0 is DRAFT and accepts no events"},
		{ref: "acme/archived/1.0.0", kind: catalog.ErrState, err: "event contract acme/archived/1.0.0 is ARCHIVED and accepts no events"},
		{ref: "acme/nope/1.0.0", kind: catalog.ErrNotFound, err: "event contract acme/nope/1.0.0 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			c, err := e.reg.ActiveContract(tt.ref)
			if tt.err != "" {
				wantErr(t, err, tt.kind, tt.err)
				if c != nil {
					t.Errorf("got %v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Ref().String() != tt.ref {
				t.Errorf("got contract %s", c.Ref())
			}
		})
	}
}

func TestParseState(t *testing.T) {
	tests := []struct {
		in   string
		want catalog.State
		err  string
	}{
		{in: "DRAFT", want: catalog.Draft},
		{in: "active", want: catalog.Active},
		{in: "Archived", want: catalog.Archived},
		{in: "", err: `unknown state "" (want DRAFT, ACTIVE or ARCHIVED)`},
		{in: "STATE_ACTIVE", err: `unknown state "STATE_ACTIVE" (want DRAFT, ACTIVE or ARCHIVED)`},
		{in: "State(0)", err: `unknown state "State(0)" (want DRAFT, ACTIVE or ARCHIVED)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := catalog.ParseState(tt.in)
			if tt.err != "" {
				wantErr(t, err, catalog.ErrInvalid, tt.err)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// describeRegistry prints every schema and contract with its state and
// creation time, for comparing a registry before and after a reopen.
func describeRegistry(r *catalog.Registry) []string {
	var out []string
	for _, s := range r.Schemas(catalog.SchemaFilter{}) {
		out = append(out, fmt.Sprintf("schema %s %s %s %s %s %q", s.Ref(), s.Type(), s.State, s.Fingerprint(), s.CreateTime.Format(time.RFC3339Nano), s.Definition()))
	}
	for _, c := range r.Contracts(catalog.ContractFilter{}) {
		out = append(out, fmt.Sprintf("contract %s -> %s %s %s %+v", c.Ref(), c.Schema().Ref(), c.State, c.CreateTime.Format(time.RFC3339Nano), normContract(c.Contract())))
	}
	return out
}

func TestRegistryPersistence(t *testing.T) {
	e := newEnv(t)
	mustSchema(t, e, "acme/tiny/1.0.0", engine.Avro, tinyAvro, false)
	e.clock.Advance(time.Second)
	mustSchema(t, e, "acme/tiny/1.1.0", engine.Avro, strings.Join(strings.Fields(tinyAvro), " "), true)
	e.clock.Advance(time.Millisecond)
	mustSchema(t, e, "acme/tiny-json/1.0.0", engine.JSONSchema, tinyJSON, false)
	e.clock.Advance(time.Nanosecond)
	mustContract(t, e, tinyContract(), false)
	mustContract(t, e, engine.Contract{Ref: mustRef(t, "acme/json/1.0.0"), SchemaRef: mustRef(t, "acme/tiny-json/1.0.0"), KeyField: "session",
		PIIFields: map[string]int{"session": 3}}, true)
	if _, err := e.reg.SetSchemaState("acme/tiny-json/1.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.SetContractState("acme/tiny/1.0.0", catalog.Archived); err != nil {
		t.Fatal(err)
	}
	want := describeRegistry(e.reg)
	if len(want) != 5 {
		t.Fatalf("registry holds %q", want)
	}
	for range 2 {
		e.reopen(t)
		if got := describeRegistry(e.reg); !slices.Equal(got, want) {
			t.Errorf("after reopen:\n got %q\nwant %q", got, want)
		}
	}
	// Contracts are compiled again on open, against the reopened schema.
	cc, err := e.reg.Contract("acme/tiny/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.reg.Schema("acme/tiny/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if cc.Schema() != s.Schema || cc.KeyField().Path != "session" || len(cc.PIIFields()) != 2 {
		t.Errorf("reopened contract: schema %p (want %p), key field %q, %d PII fields", cc.Schema(), s.Schema, cc.KeyField().Path, len(cc.PIIFields()))
	}
}

// builtinSchema returns the definition of a schema of the built-in catalogue.
func builtinSchema(t testing.TB, ref string) *engine.Schema {
	t.Helper()
	schemas, _, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range schemas {
		if s.Ref().String() == ref {
			return s
		}
	}
	t.Fatalf("no built-in schema %s", ref)
	return nil
}

var builtinRefs = []string{
	"streammachine/clickstream/1.0.0", "streammachine/demo/1.0.2", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/demo/1.0.2", // schemas
	"streammachine/clickstream/1.0.0", "streammachine/example/1.3.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/example/1.3.0", // contracts
}

// builtinSchemas is how many of builtinRefs are schemas.
const builtinSchemas = 6

func TestRegisterCatalogue(t *testing.T) {
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// before runs before the first RegisterCatalogue, after between the
		// first and the second.
		before, after func(t *testing.T, e *env)
		added         []string // by the first run; the later ones add nothing
		err           string   // of every run
		kinds         []error  // err matches all of them
		// states of the entries that are not ACTIVE at the end, "schema ref"
		// or "contract ref" to state.
		states map[string]catalog.State
		// missing: entries of the catalogue that end up not registered.
		missing []string
	}{
		{name: "empty registry", added: builtinRefs},
		{name: "archived by the user stays archived", added: builtinRefs,
			after: func(t *testing.T, e *env) {
				if _, err := e.reg.SetSchemaState("streammachine/demo/1.0.2", catalog.Archived); err != nil {
					t.Fatal(err)
				}
				if _, err := e.reg.SetContractState("streammachine/example/1.3.0", catalog.Archived); err != nil {
					t.Fatal(err)
				}
			},
			states: map[string]catalog.State{"schema streammachine/demo/1.0.2": catalog.Archived, "contract streammachine/example/1.3.0": catalog.Archived}},
		{name: "same schema registered by the user as a draft",
			before: func(t *testing.T, e *env) {
				s := builtinSchema(t, "strmlocal/sensor/1.0.0")
				mustSchema(t, e, s.Ref().String(), s.Type(), s.Definition(), true)
			},
			added: slices.Delete(slices.Clone(builtinRefs), 3, 4),
			// The contract is ACTIVE for a DRAFT schema.
			states: map[string]catalog.State{"schema strmlocal/sensor/1.0.0": catalog.Draft}},
		{name: "schema and contract identical to the user's",
			before: func(t *testing.T, e *env) {
				mustSchema(t, e, "streammachine/demo/1.0.2", engine.Avro, builtinSchema(t, "streammachine/demo/1.0.2").Definition(), false)
				c := contracts[slices.IndexFunc(contracts, func(c *engine.CompiledContract) bool { return c.Ref().String() == "streammachine/example/1.3.0" })]
				mustContract(t, e, c.Contract(), false)
			},
			added: []string{
				"streammachine/clickstream/1.0.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/demo/1.0.2",
				"streammachine/clickstream/1.0.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/example/1.3.0",
			}},
		// A ref the user took for something else is skipped, with an error
		// that names it, at every run.
		{name: "schema ref taken by another definition",
			before: func(t *testing.T, e *env) { mustSchema(t, e, "streammachine/demo/1.0.2", engine.Avro, tinyAvro, true) },
			added: []string{
				"streammachine/clickstream/1.0.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/demo/1.0.2",
				"streammachine/clickstream/1.0.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/example/1.3.0",
			},
			kinds: []error{catalog.ErrExists, engine.ErrInvalidContract},
			err: "catalogue schema streammachine/demo/1.0.2: schema streammachine/demo/1.0.2 is already registered with another definition; registered versions are immutable, so register the change as a new version\n" +
				"catalogue event contract streammachine/example/1.3.0: keyField: 'consistentValue' does not exist in schema 'streammachine/demo/1.0.2'\n" +
				"piiFields: 'consistentValue' does not exist in schema 'streammachine/demo/1.0.2'\n" +
				"piiFields: 'someSensitiveValue' does not exist in schema 'streammachine/demo/1.0.2'\n" +
				"piiFields: 'uniqueIdentifier' does not exist in schema 'streammachine/demo/1.0.2'\n" +
				"validations[0]: field 'consistentValue' does not exist in schema 'streammachine/demo/1.0.2'",
			states:  map[string]catalog.State{"schema streammachine/demo/1.0.2": catalog.Draft},
			missing: []string{"contract streammachine/example/1.3.0"}},
		{name: "contract ref taken by another contract",
			before: func(t *testing.T, e *env) {
				s := builtinSchema(t, "streammachine/clickstream/1.0.0")
				mustSchema(t, e, s.Ref().String(), s.Type(), s.Definition(), false)
				mustContract(t, e, engine.Contract{Ref: s.Ref(), SchemaRef: s.Ref(), KeyField: "url"}, false)
			},
			added: []string{
				"streammachine/demo/1.0.2", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/demo/1.0.2",
				"streammachine/example/1.3.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/example/1.3.0",
			},
			kinds: []error{catalog.ErrExists},
			err:   "catalogue event contract streammachine/clickstream/1.0.0: event contract streammachine/clickstream/1.0.0 is already registered with another definition; registered versions are immutable, so register the change as a new version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.before != nil {
				tt.before(t, e)
			}
			check := func(run int, added []string, err error) {
				t.Helper()
				var want []string
				if run == 0 {
					want = tt.added
				}
				if !slices.Equal(added, want) {
					t.Errorf("run %d added:\n got %q\nwant %q", run, added, want)
				}
				if tt.err == "" {
					if err != nil {
						t.Errorf("run %d: %v", run, err)
					}
					return
				}
				if err == nil || err.Error() != tt.err {
					t.Errorf("run %d error:\n got %v\nwant %s", run, err, tt.err)
				}
				for _, k := range tt.kinds {
					if !errors.Is(err, k) {
						t.Errorf("run %d: error does not match %v", run, k)
					}
				}
			}
			added, err := e.reg.RegisterCatalogue(schemas, contracts)
			check(0, added, err)
			if tt.after != nil {
				tt.after(t, e)
			}
			e.clock.Advance(time.Hour)
			added, err = e.reg.RegisterCatalogue(schemas, contracts)
			check(1, added, err)
			e.reopen(t)
			added, err = e.reg.RegisterCatalogue(schemas, contracts)
			check(2, added, err)

			// Everything of the catalogue is registered, from the first run on,
			// but what the user took for something else.
			var got, want []string
			for _, s := range e.reg.Schemas(catalog.SchemaFilter{}) {
				got = append(got, "schema "+s.Ref().String())
			}
			for _, c := range e.reg.Contracts(catalog.ContractFilter{}) {
				got = append(got, "contract "+c.Ref().String())
			}
			for i, ref := range builtinRefs {
				kind := "schema "
				if i >= builtinSchemas {
					kind = "contract "
				}
				if !slices.Contains(tt.missing, kind+ref) {
					want = append(want, kind+ref)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("registered:\n got %q\nwant %q", got, want)
			}
			for _, s := range e.reg.Schemas(catalog.SchemaFilter{}) {
				want, ok := tt.states["schema "+s.Ref().String()]
				if !ok {
					want = catalog.Active
				}
				if s.State != want || !s.CreateTime.Equal(t0) {
					t.Errorf("schema %s is %s created %s, want %s created %s", s.Ref(), s.State, s.CreateTime, want, t0)
				}
			}
			for _, c := range e.reg.Contracts(catalog.ContractFilter{}) {
				want, ok := tt.states["contract "+c.Ref().String()]
				if !ok {
					want = catalog.Active
				}
				if c.State != want || !c.CreateTime.Equal(t0) || c.Schema().Ref() != c.Contract().SchemaRef {
					t.Errorf("contract %s for %s is %s created %s, want %s created %s", c.Ref(), c.Schema().Ref(), c.State, c.CreateTime, want, t0)
				}
			}
		})
	}
}
