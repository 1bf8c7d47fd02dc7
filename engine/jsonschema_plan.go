package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jschPlan is the compiled form of a JSON Schema and the codec of its events
// (jsonschema_event.go).
// JSON Schema events keep their own document order (the compiled schema does
// not record property order), so their values are a generic tree of objects
// and arrays and a field is found by walking its path.
type jschPlan struct {
	compiled *jsonschema.Schema
}

// noLoader refuses every external reference: a registered schema must not make
// the server read files or fetch URLs.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external references are not supported (%s)", url)
}

func compileJSONSchema(s *Schema) error {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.definition))
	if err != nil {
		return schemaError("", "definition is not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	url := "strmlocal:///schemas/" + s.ref.String() + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return schemaError("", "invalid JSON Schema: %v", err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		var sve *jsonschema.SchemaValidationError
		var ve *jsonschema.ValidationError
		if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
			loc, msgs := deepestFailures(ve)
			return schemaError(loc, "invalid JSON Schema: at '%s': %s", loc, strings.Join(msgs, "; "))
		}
		return schemaError("", "invalid JSON Schema: %s", strings.TrimPrefix(err.Error(), "jsonschema: "))
	}
	if err := checkJSONSchemaMeta(compiled); err != nil {
		return err
	}
	fp, err := jsonCanonical(doc)
	if err != nil {
		return schemaError("", "fingerprint: %v", err)
	}
	sum := sha256.Sum256(fp)
	s.fingerprint = hex.EncodeToString(sum[:])
	s.codec = &jschPlan{compiled: compiled}
	s.fields = jschIndex(compiled)
	return nil
}

// jsonCanonical re-serialises a parsed document with object keys sorted and no
// insignificant whitespace. Numbers keep their literal form (json.Number) and
// strings are re-escaped by encoding/json without HTML escaping. This is not
// full RFC 8785 (which also normalises numbers) but is stable for one text
// and ignores formatting and key order, which is what a fingerprint needs.
func jsonCanonical(doc any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jschTypes returns the JSON types a schema admits, following $ref, allOf
// (intersection) and anyOf/oneOf (union). ok is false when the schema does not
// pin the types down.
func jschTypes(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool) (types []string, ok bool) {
	if s == nil || seen[s] {
		return nil, false
	}
	seen[s] = true
	defer delete(seen, s)
	var out []string
	known := false
	meet := func(t []string) {
		if !known {
			out, known = t, true
			return
		}
		out = slices.DeleteFunc(slices.Clone(out), func(x string) bool {
			return !slices.Contains(t, x) && !(x == "integer" && slices.Contains(t, "number"))
		})
	}
	if s.Types != nil && !s.Types.IsEmpty() {
		meet(s.Types.ToStrings())
	}
	if t, ok := jschTypes(s.Ref, seen); ok {
		meet(t)
	}
	for _, a := range s.AllOf {
		if t, ok := jschTypes(a, seen); ok {
			meet(t)
		}
	}
	for _, alts := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf} {
		if len(alts) == 0 {
			continue
		}
		var u []string
		all := true
		for _, a := range alts {
			t, ok := jschTypes(a, seen)
			if !ok {
				all = false
				break
			}
			for _, x := range t {
				if !slices.Contains(u, x) {
					u = append(u, x)
				}
			}
		}
		if all {
			meet(u)
		}
	}
	slices.Sort(out)
	return out, known
}

// jschProps collects the properties a schema declares, following $ref and allOf,
// and reports whether name is required.
func jschProps(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool, props map[string]*jsonschema.Schema, required map[string]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	defer delete(seen, s)
	for k, v := range s.Properties {
		if _, ok := props[k]; !ok {
			props[k] = v
		}
	}
	for _, r := range s.Required {
		required[r] = true
	}
	jschProps(s.Ref, seen, props, required)
	for _, a := range s.AllOf {
		jschProps(a, seen, props, required)
	}
}

func jschItems(s *jsonschema.Schema) *jsonschema.Schema {
	for s != nil {
		if s.Items2020 != nil {
			return s.Items2020
		}
		if it, ok := s.Items.(*jsonschema.Schema); ok {
			return it
		}
		s = s.Ref
	}
	return nil
}

// jschKind classifies a type set the way the field index reports it.
func jschKind(types []string, ok bool) (Kind, bool) {
	if !ok {
		return KindAny, false
	}
	nullable := slices.Contains(types, "null")
	rest := slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "null" })
	if len(rest) == 0 {
		if nullable {
			return KindNull, false
		}
		return KindAny, false
	}
	if len(rest) == 2 && rest[0] == "integer" && rest[1] == "number" {
		rest = rest[1:]
	}
	if len(rest) != 1 {
		return KindAny, nullable
	}
	switch rest[0] {
	case "string":
		return KindString, nullable
	case "integer":
		return KindInteger, nullable
	case "number":
		return KindNumber, nullable
	case "boolean":
		return KindBoolean, nullable
	case "object":
		return KindObject, nullable
	case "array":
		return KindArray, nullable
	}
	return KindAny, nullable
}

func jschDesc(s *jsonschema.Schema) string {
	types, ok := jschTypes(s, map[*jsonschema.Schema]bool{})
	k, nullable := jschKind(types, ok)
	desc := k.String()
	if k == KindAny && ok && len(types) > 0 {
		desc = strings.Join(types, "|")
	}
	if k == KindArray {
		if it := jschItems(s); it != nil {
			desc = "array of " + jschDesc(it)
		}
	}
	if nullable && k != KindAny && k != KindNull {
		desc = "nullable " + desc
	}
	return desc
}

// jschIndex lists every property reachable through objects, sorted by path
// within each object.
func jschIndex(root *jsonschema.Schema) []Field {
	var out []Field
	var walk func(prefix string, segs []string, s *jsonschema.Schema, depth int)
	walk = func(prefix string, segs []string, s *jsonschema.Schema, depth int) {
		if depth > maxDepth {
			return
		}
		props := map[string]*jsonschema.Schema{}
		jschProps(s, map[*jsonschema.Schema]bool{}, props, map[string]bool{})
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, name := range names {
			if strings.Contains(name, "/") {
				continue // not addressable with '/'-separated paths
			}
			p := props[name]
			path := name
			if prefix != "" {
				path = prefix + "/" + name
			}
			fsegs := append(slices.Clip(segs), name)
			k, nullable := jschKind(jschTypes(p, map[*jsonschema.Schema]bool{}))
			out = append(out, Field{Path: path, Kind: k, Nullable: nullable, slot: -1, segs: fsegs})
			if k == KindObject {
				walk(path, fsegs, p, depth+1)
			}
		}
	}
	walk("", nil, root, 0)
	return out
}

func checkJSONSchemaMeta(root *jsonschema.Schema) error {
	types, ok := jschTypes(root, map[*jsonschema.Schema]bool{})
	if k, nullable := jschKind(types, ok); k != KindObject || nullable {
		return schemaError("", "the top level must be an object, got %s", jschDesc(root))
	}
	props := map[string]*jsonschema.Schema{}
	required := map[string]bool{}
	jschProps(root, map[*jsonschema.Schema]bool{}, props, required)
	meta, ok := props["strmMeta"]
	if !ok {
		return schemaError("strmMeta", strmMetaRequired)
	}
	if desc := jschDesc(meta); desc != "object" {
		return schemaError("strmMeta", "strmMeta: expected object, got %s", desc)
	}
	var errs []error
	if !required["strmMeta"] {
		errs = append(errs, schemaError("strmMeta", "strmMeta: must be listed in the top-level required properties"))
	}
	mprops := map[string]*jsonschema.Schema{}
	mrequired := map[string]bool{}
	jschProps(meta, map[*jsonschema.Schema]bool{}, mprops, mrequired)
	for _, spec := range strmMetaSpec {
		p, ok := mprops[spec.name]
		if !ok {
			if spec.required {
				errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: missing, expected %s", spec.name, spec.jsonWant))
			}
			continue
		}
		if got := jschDesc(p); got != spec.jsonWant {
			errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: expected %s, got %s", spec.name, spec.jsonWant, got))
			continue
		}
		if spec.required && !strings.HasPrefix(spec.jsonWant, "nullable") && !mrequired[spec.name] {
			errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: must be listed in strmMeta's required properties", spec.name))
		}
	}
	return errors.Join(errs...)
}

// deepestFailures returns the deepest location at which a definition breaks
// the JSON Schema meta-schema, as a JSON pointer, and every failure reported
// there, sorted: the metaschema's allOf/anyOf wrappers above it say nothing
// the user can act on.
func deepestFailures(ve *jsonschema.ValidationError) (string, []string) {
	var loc string
	var msgs []string
	var visit func(u *jsonschema.OutputUnit)
	visit = func(u *jsonschema.OutputUnit) {
		if u.Error != nil {
			switch l := u.InstanceLocation; {
			case msgs == nil || len(l) > len(loc) || len(l) == len(loc) && l < loc:
				loc, msgs = l, []string{u.Error.String()}
			case l == loc:
				msgs = append(msgs, u.Error.String())
			}
		}
		for i := range u.Errors {
			visit(&u.Errors[i])
		}
	}
	visit(ve.DetailedOutput())
	slices.Sort(msgs)
	if loc == "" {
		loc = "/"
	}
	return loc, slices.Compact(msgs)
}
