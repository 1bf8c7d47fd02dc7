package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Contract is an event contract as registered: which schema it governs and the
// rules events of that schema must follow.
type Contract struct {
	Ref       Ref
	SchemaRef Ref
	// KeyField ties events into a sequence (a session, a device); it must be a
	// string field and non-empty in every event.
	KeyField string
	// PIIFields maps a field path to its consent level (>= 0). PII fields must
	// be string or nullable string fields.
	PIIFields map[string]int
	// Validations run in order on every event.
	Validations []Validation
	// DataSubjectField optionally names the field that identifies the person.
	DataSubjectField string
}

// Validation is one rule of a contract, e.g. {Field: "url", Type: "regex",
// Value: "^https://"}.
type Validation struct {
	Field string `json:"field"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// PIIField is a PII field of a compiled contract.
type PIIField struct {
	Field Field
	Level int
}

// CompiledContract is a contract checked against its schema, with every path
// resolved to a Field and every validation compiled. It is immutable and safe
// for concurrent use.
type CompiledContract struct {
	contract    Contract
	schema      *Schema
	key         Field
	pii         []PIIField
	dataSubject Field
	hasSubject  bool
	checks      []compiledValidation
	schemaRef   string // schema ref as the rejection messages print it
	ref         string // the contract's own ref, as RefString returns it
}

type compiledValidation struct {
	field Field
	v     Validation
	c     checker
}

// CompileContract checks c against s and compiles it. Every problem found is
// reported, as one *DefinitionError per problem joined with errors.Join; each
// names the contract field and the rule, e.g.
// "piiFields: 'customer/name' does not exist in schema 'streammachine/clickstream/1.0.0'".
func CompileContract(c Contract, s *Schema) (*CompiledContract, error) {
	if err := c.Ref.Validate(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, contractError("schemaRef", "schemaRef: no schema given for contract '%s'", c.Ref)
	}
	sref := s.Ref()
	cc := &CompiledContract{contract: cloneContract(c), schema: s, schemaRef: sref.String(), ref: c.Ref.String()}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, contractError(field, format, args...))
	}
	switch {
	case c.SchemaRef.IsZero():
		add("schemaRef", "schemaRef: is required")
	case c.SchemaRef != sref:
		add("schemaRef", "schemaRef: contract names schema '%s' but is compiled against schema '%s'", c.SchemaRef, sref)
	}

	// stringField resolves a path that must hold a string; it returns ok=false
	// after recording the problem.
	stringField := func(what, path string) (Field, bool) {
		f, ok := s.Field(path)
		if !ok {
			add(what, "%s: '%s' does not exist in schema '%s'", what, path, sref)
			return Field{}, false
		}
		if !f.IsString() {
			add(what, "%s: '%s' must be a string or nullable string, but is %s", what, path, f)
			return Field{}, false
		}
		return f, true
	}

	if c.KeyField == "" {
		add("keyField", "keyField: is required")
	} else if f, ok := stringField("keyField", c.KeyField); ok {
		cc.key = f
	}

	for _, path := range slices.Sorted(maps.Keys(c.PIIFields)) {
		level := c.PIIFields[path]
		if path == "strmMeta" || strings.HasPrefix(path, "strmMeta/") {
			add("piiFields", "piiFields: '%s' is part of strmMeta, which is never encrypted", path)
			continue
		}
		f, ok := stringField("piiFields", path)
		if level < 0 {
			add("piiFields", "piiFields: '%s' has consent level %d, but levels must be >= 0", path, level)
			continue
		}
		if ok {
			cc.pii = append(cc.pii, PIIField{Field: f, Level: level})
		}
	}

	for i, v := range c.Validations {
		what := fmt.Sprintf("validations[%d]", i)
		if v.Field == "" {
			add(what, "%s: field is required", what)
			continue
		}
		f, ok := s.Field(v.Field)
		if !ok {
			add(what, "%s: field '%s' does not exist in schema '%s'", what, v.Field, sref)
			continue
		}
		compile, ok := validators[v.Type]
		if !ok {
			add(what, "%s: unknown type '%s' for field '%s' (known types: %s)", what, v.Type, v.Field, strings.Join(ValidationTypes(), ", "))
			continue
		}
		if v.Value == "" {
			add(what, "%s: value is required for field '%s'", what, v.Field)
			continue
		}
		chk, err := compile(f, v.Value)
		if err != nil {
			add(what, "%s: %v", what, err)
			continue
		}
		cc.checks = append(cc.checks, compiledValidation{field: f, v: v, c: chk})
	}

	if c.DataSubjectField != "" {
		if f, ok := stringField("dataSubjectField", c.DataSubjectField); ok {
			cc.dataSubject, cc.hasSubject = f, true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cc, nil
}

func contractError(field, format string, args ...any) error {
	return &DefinitionError{Field: field, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidContract}
}

func cloneContract(c Contract) Contract {
	c.PIIFields = maps.Clone(c.PIIFields)
	c.Validations = slices.Clone(c.Validations)
	return c
}

// Contract returns a copy of the contract as given.
func (cc *CompiledContract) Contract() Contract { return cloneContract(cc.contract) }

// Ref returns the contract's ref.
func (cc *CompiledContract) Ref() Ref { return cc.contract.Ref }

// RefString is Ref().String(), made once.
func (cc *CompiledContract) RefString() string { return cc.ref }

// Schema returns the schema the contract was compiled against.
func (cc *CompiledContract) Schema() *Schema { return cc.schema }

// KeyField returns the key field.
func (cc *CompiledContract) KeyField() Field { return cc.key }

// PIIFields returns the PII fields sorted by path. The slice is shared; do not
// modify it.
func (cc *CompiledContract) PIIFields() []PIIField { return cc.pii }

// HoldsPII reports whether ev, an event of cc's schema, has a value in any
// of cc's PII fields: in a stored event, whether anything in it is
// ciphertext. Null and absent PII fields hold nothing.
func (cc *CompiledContract) HoldsPII(ev *Event) bool {
	for _, p := range cc.pii {
		if _, ok := ev.GetString(p.Field); ok {
			return true
		}
	}
	return false
}

// DataSubjectField returns the data-subject field, if the contract has one.
func (cc *CompiledContract) DataSubjectField() (Field, bool) { return cc.dataSubject, cc.hasSubject }

// definitionKeys are the fields of the JSON contract definition.
var definitionKeys = []string{"keyField", "piiFields", "validations", "dataSubjectField"}

// ParseContractDefinition parses a contract definition as the CLI reads it:
//
//	{"keyField": "f", "piiFields": {"path": 1}, "validations": [{"field": "f", "type": "regex", "value": "^.+$"}], "dataSubjectField": "f"}
//
// Unknown fields are refused, so a misspelt rule cannot be silently dropped.
// The returned Contract has no Ref or SchemaRef; the caller sets them.
func ParseContractDefinition(data []byte) (Contract, error) {
	c, _, err := parseContract(data, false)
	return c, err
}

// parseContract parses a definition; with withSchemaRef it also takes (and
// requires) a "schemaRef" field, the catalogue's contract.json form.
func parseContract(data []byte, withSchemaRef bool) (Contract, Ref, error) {
	fail := func(format string, args ...any) (Contract, Ref, error) {
		return Contract{}, Ref{}, &DefinitionError{Msg: "contract definition: " + fmt.Sprintf(format, args...), kind: ErrInvalidContract}
	}
	known := definitionKeys
	if withSchemaRef {
		known = append([]string{"schemaRef"}, known...)
	}
	top, err := jsonObject(data, known)
	if err != nil {
		return fail("%v", err)
	}
	var c Contract
	var sref Ref
	str := func(key string, dst *string) error {
		raw, ok := top[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%s: must be a string", key)
		}
		return nil
	}
	var schemaRef string
	for _, e := range []struct {
		key string
		dst *string
	}{{"keyField", &c.KeyField}, {"dataSubjectField", &c.DataSubjectField}, {"schemaRef", &schemaRef}} {
		if err := str(e.key, e.dst); err != nil {
			return fail("%v", err)
		}
	}
	if withSchemaRef {
		if sref, err = ParseRef(schemaRef); err != nil {
			return fail("schemaRef: %v", err)
		}
	}
	if raw, ok := top["piiFields"]; ok && !isNull(raw) {
		var levels map[string]json.RawMessage
		if err := json.Unmarshal(raw, &levels); err != nil {
			return fail("piiFields: must be an object mapping field paths to consent levels")
		}
		c.PIIFields = make(map[string]int, len(levels))
		for _, path := range slices.Sorted(maps.Keys(levels)) {
			lit := string(bytes.TrimSpace(levels[path]))
			n, err := strconv.Atoi(lit)
			if err != nil {
				return fail("piiFields: '%s' level must be an integer, got %s", path, lit)
			}
			c.PIIFields[path] = n
		}
	}
	if raw, ok := top["validations"]; ok && !isNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fail("validations: must be an array")
		}
		for i, item := range items {
			obj, err := jsonObject(item, []string{"field", "type", "value"})
			if err != nil {
				return fail("validations[%d]: %v", i, err)
			}
			var v Validation
			for _, e := range []struct {
				key string
				dst *string
			}{{"field", &v.Field}, {"type", &v.Type}, {"value", &v.Value}} {
				if raw, ok := obj[e.key]; ok {
					if err := json.Unmarshal(raw, e.dst); err != nil {
						return fail("validations[%d]: %s must be a string", i, e.key)
					}
				}
			}
			c.Validations = append(c.Validations, v)
		}
	}
	return c, sref, nil
}

// jsonObject decodes one JSON object, refusing keys outside known and data
// after the object.
func jsonObject(data []byte, known []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		if err == nil || errors.As(err, new(*json.UnmarshalTypeError)) {
			return nil, errors.New("must be a JSON object")
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: unexpected data after the object")
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown field '%s' (known fields: %s)", k, strings.Join(known, ", "))
		}
	}
	return obj, nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}
