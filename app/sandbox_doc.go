package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Sandbox is a sandbox document (docs/sandbox.md): what a server should
// hold, applied by Apply and produced by ExportConfig. File references
// (definitionFile) are inlined before a document gets here (package
// client's LoadSandbox).
type Sandbox struct {
	Schemas        []SandboxSchema    `json:"schemas,omitempty"`
	EventContracts []SandboxContract  `json:"eventContracts,omitempty"`
	Streams        []SandboxStream    `json:"streams,omitempty"`
	DataConnectors []SandboxConnector `json:"dataConnectors,omitempty"`
	Jobs           []SandboxJob       `json:"jobs,omitempty"`
}

// SandboxSchema is a schema version of a document.
type SandboxSchema struct {
	// Ref is handle/name/version.
	Ref string `json:"ref"`
	// Type is avro or json-schema; empty: json-schema for a definition with
	// a top-level "$schema", else avro (as create schema decides).
	Type string `json:"type,omitempty"`
	// Definition is the schema's text as a JSON string, or the schema
	// itself as a JSON object.
	Definition json.RawMessage `json:"definition,omitempty"`
}

// SandboxContract is an event contract of a document.
type SandboxContract struct {
	Ref       string `json:"ref"`
	SchemaRef string `json:"schemaRef"`
	// Definition is what create event-contract's definition file holds
	// (keyField, piiFields, validations, dataSubjectField): a JSON object,
	// or its text as a JSON string.
	Definition json.RawMessage `json:"definition,omitempty"`
}

// SandboxStream is a source stream, or with DerivedFrom a derived one.
type SandboxStream struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Derived streams only.
	DerivedFrom string `json:"derivedFrom,omitempty"`
	// ConsentType is cumulative (the default) or granular.
	ConsentType  string              `json:"consentType,omitempty"`
	Levels       []int32             `json:"levels,omitempty"`
	MaskedFields map[string][]string `json:"maskedFields,omitempty"`
	// MaskSeed: empty is a random seed for a new stream, and any seed for
	// an existing one. ExportConfig leaves it out.
	MaskSeed   string `json:"maskSeed,omitempty"`
	EmitFilter string `json:"emitFilter,omitempty"`
	// Credentials pin the stream's client id and secret (for CI); nil:
	// generated at creation. ExportConfig leaves them out.
	Credentials *SandboxCredentials `json:"credentials,omitempty"`
}

// SandboxCredentials are pinned credentials of a stream.
type SandboxCredentials struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// SandboxConnector is a data connector: its kind and the kind's config as
// create data-connector takes it. A secret field given as "***" keeps the
// secret of the existing connector.
type SandboxConnector struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	Config json.RawMessage `json:"config,omitempty"`
}

// SandboxJob is a job: its kind, the stream it reads, the data connector
// it writes to and the kind's config.
type SandboxJob struct {
	// Name may be empty: <connector>-<stream> ("-keys" appended for a key
	// exporter).
	Name      string          `json:"name,omitempty"`
	Kind      string          `json:"kind"`
	Stream    string          `json:"stream"`
	Connector string          `json:"connector"`
	Config    json.RawMessage `json:"config,omitempty"`
}

// ParseSandbox reads a sandbox document from JSON. It is strict: an
// unknown field, or a value of the wrong type, is an ErrInvalid error that
// names it by its path (streams[1].levels[0]: …).
func ParseSandbox(data []byte) (*Sandbox, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, invalidf("sandbox document: not JSON: %v", err)
	}
	if d.More() {
		return nil, invalidf("sandbox document: more than one JSON value; give one object")
	}
	if v == nil {
		return &Sandbox{}, nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, invalidf("sandbox document: must be an object with schemas, eventContracts, streams, dataConnectors and jobs")
	}
	if err := checkShape("", v, reflect.TypeFor[Sandbox]()); err != nil {
		return nil, err
	}
	doc := new(Sandbox)
	if err := json.Unmarshal(data, doc); err != nil {
		// checkShape admits only what decodes; this is a defect.
		return nil, invalidf("sandbox document: %v", err)
	}
	return doc, nil
}

var rawType = reflect.TypeFor[json.RawMessage]()

// inlined are the fields a file on disk has and a document sent to the
// server must not: the client inlines them.
var inlined = map[string]bool{"schemas[].definitionFile": true, "eventContracts[].definitionFile": true}

// checkShape checks that v (as decoded with UseNumber) decodes into a value
// of type t, naming the first offence by its path.
func checkShape(path string, v any, t reflect.Type) error {
	if v == nil {
		return nil // null is the zero value
	}
	if t == rawType {
		return nil // any JSON: its own checks name it
	}
	want := func(what string) error { return invalidf("%s: must be %s", pathOr(path), what) }
	switch t.Kind() {
	case reflect.Pointer:
		return checkShape(path, v, t.Elem())
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return want("an object")
		}
		fields := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
			names = append(names, name)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				if inlined[generic(path)+"."+k] {
					return invalidf("%s: a file reference reaches the server only inlined: send the file's content as definition (strmlocal apply and client.LoadSandbox do)", join(path, k))
				}
				return invalidf("%s: unknown field (fields here: %s)", join(path, k), strings.Join(names, ", "))
			}
			if err := checkShape(join(path, k), m[k], ft); err != nil {
				return err
			}
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return want("a list")
		}
		for i, e := range a {
			if err := checkShape(path+"["+strconv.Itoa(i)+"]", e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return want("an object")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkShape(join(path, k), m[k], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return want("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return want("true or false")
		}
	case reflect.Int32:
		n, ok := v.(json.Number)
		if !ok {
			return want("an integer")
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return want("an integer of 32 bits")
		}
	default:
		return fmt.Errorf("app: sandbox document field %s of type %s is not checked", pathOr(path), t) // a defect
	}
	return nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func pathOr(path string) string {
	if path == "" {
		return "sandbox document"
	}
	return path
}

// generic is a path without its indexes: schemas[0] → schemas[].
func generic(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
			b.WriteString("[]")
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
