package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsPlan is the compiled form of a JSON Schema and the codec of its events.
// JSON Schema events keep their own document order (the compiled schema does
// not record property order), so their values are a generic tree of objects
// and arrays and a field is found by walking its path.
type jsPlan struct {
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
	if err := checkJSONMeta(compiled); err != nil {
		return err
	}
	fp, err := jsonCanonical(doc)
	if err != nil {
		return schemaError("", "fingerprint: %v", err)
	}
	sum := sha256.Sum256(fp)
	s.fingerprint = hex.EncodeToString(sum[:])
	s.codec = &jsPlan{compiled: compiled}
	s.fields = jsIndex(compiled)
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

// jsTypes returns the JSON types a schema admits, following $ref, allOf
// (intersection) and anyOf/oneOf (union). ok is false when the schema does not
// pin the types down.
func jsTypes(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool) (types []string, ok bool) {
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
	if t, ok := jsTypes(s.Ref, seen); ok {
		meet(t)
	}
	for _, a := range s.AllOf {
		if t, ok := jsTypes(a, seen); ok {
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
			t, ok := jsTypes(a, seen)
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

// jsProps collects the properties a schema declares, following $ref and allOf,
// and reports whether name is required.
func jsProps(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool, props map[string]*jsonschema.Schema, required map[string]bool) {
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
	jsProps(s.Ref, seen, props, required)
	for _, a := range s.AllOf {
		jsProps(a, seen, props, required)
	}
}

func jsItems(s *jsonschema.Schema) *jsonschema.Schema {
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

// jsKind classifies a type set the way the field index reports it.
func jsKind(types []string, ok bool) (Kind, bool) {
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

func jsDesc(s *jsonschema.Schema) string {
	types, ok := jsTypes(s, map[*jsonschema.Schema]bool{})
	k, nullable := jsKind(types, ok)
	desc := k.String()
	if k == KindAny && ok && len(types) > 0 {
		desc = strings.Join(types, "|")
	}
	if k == KindArray {
		if it := jsItems(s); it != nil {
			desc = "array of " + jsDesc(it)
		}
	}
	if nullable && k != KindAny && k != KindNull {
		desc = "nullable " + desc
	}
	return desc
}

// jsIndex lists every property reachable through objects, sorted by path
// within each object.
func jsIndex(root *jsonschema.Schema) []Field {
	var out []Field
	var walk func(prefix string, segs []string, s *jsonschema.Schema, depth int)
	walk = func(prefix string, segs []string, s *jsonschema.Schema, depth int) {
		if depth > maxDepth {
			return
		}
		props := map[string]*jsonschema.Schema{}
		jsProps(s, map[*jsonschema.Schema]bool{}, props, map[string]bool{})
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
			k, nullable := jsKind(jsTypes(p, map[*jsonschema.Schema]bool{}))
			out = append(out, Field{Path: path, Kind: k, Nullable: nullable, slot: -1, segs: fsegs})
			if k == KindObject {
				walk(path, fsegs, p, depth+1)
			}
		}
	}
	walk("", nil, root, 0)
	return out
}

func checkJSONMeta(root *jsonschema.Schema) error {
	types, ok := jsTypes(root, map[*jsonschema.Schema]bool{})
	if k, nullable := jsKind(types, ok); k != KindObject || nullable {
		return schemaError("", "the top level must be an object, got %s", jsDesc(root))
	}
	props := map[string]*jsonschema.Schema{}
	required := map[string]bool{}
	jsProps(root, map[*jsonschema.Schema]bool{}, props, required)
	meta, ok := props["strmMeta"]
	if !ok {
		return schemaError("strmMeta", strmMetaRequired)
	}
	if desc := jsDesc(meta); desc != "object" {
		return schemaError("strmMeta", "strmMeta: expected object, got %s", desc)
	}
	var errs []error
	if !required["strmMeta"] {
		errs = append(errs, schemaError("strmMeta", "strmMeta: must be listed in the top-level required properties"))
	}
	mprops := map[string]*jsonschema.Schema{}
	mrequired := map[string]bool{}
	jsProps(meta, map[*jsonschema.Schema]bool{}, mprops, mrequired)
	for _, spec := range strmMetaSpec {
		p, ok := mprops[spec.name]
		if !ok {
			if spec.required {
				errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: missing, expected %s", spec.name, spec.jsonWant))
			}
			continue
		}
		if got := jsDesc(p); got != spec.jsonWant {
			errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: expected %s, got %s", spec.name, spec.jsonWant, got))
			continue
		}
		if spec.required && !strings.HasPrefix(spec.jsonWant, "nullable") && !mrequired[spec.name] {
			errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: must be listed in strmMeta's required properties", spec.name))
		}
	}
	return errors.Join(errs...)
}

// jsonSchemaEvent parses d.raw as a generic JSON tree and, if asked,
// validates it against the schema.
func (d *decoder) jsonSchemaEvent(compiled *jsonschema.Schema, validate bool) error {
	if d.peek() == 0 {
		return errf("invalid JSON: empty body")
	}
	v, err := d.jsAny()
	if err != nil {
		return err
	}
	d.vals[0] = v
	if err := d.end(); err != nil {
		return err
	}
	if !validate {
		return nil
	}
	if err := compiled.Validate(toAny(d.vals, v)); err != nil {
		return validationError(err)
	}
	return nil
}

func (d *decoder) jsAny() (value, error) {
	switch c := d.peek(); c {
	case '"':
		s, err := d.str()
		return value{kind: vString, str: s}, err
	case 't':
		return value{kind: vBool, num: 1}, d.literal("true")
	case 'f':
		return value{kind: vBool}, d.literal("false")
	case 'n':
		return value{kind: vNull}, d.literal("null")
	case '[', '{':
		if err := d.enter(); err != nil {
			return value{}, err
		}
		d.pos++
		base := len(d.stack)
		fail := func(err error) (value, error) {
			d.stack = d.stack[:base]
			return value{}, err
		}
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		if d.peek() == closer {
			d.pos++
		} else {
			for {
				var key string
				if c == '{' {
					if d.peek() != '"' {
						return fail(d.synErr("expected a property name"))
					}
					k, err := d.str()
					if err == nil {
						err = d.push(value{kind: vString, str: k})
					}
					if err != nil {
						return fail(err)
					}
					if err := d.expect(':', "expected ':' after a property name"); err != nil {
						return fail(err)
					}
					key = k
				}
				idx := len(d.stack) - base
				v, err := d.jsAny()
				if err == nil {
					err = d.push(v)
				}
				if err != nil {
					if c == '{' {
						return fail(inField(err, key))
					}
					return fail(inIndex(err, idx))
				}
				sep := d.peek()
				if sep == closer {
					d.pos++
					break
				}
				if sep != ',' {
					return fail(d.synErr("expected ',' or '" + string(closer) + "'"))
				}
				d.pos++
			}
		}
		kind, cnt := vArray, len(d.stack)-base
		if c == '{' {
			if err := d.checkDupKeys(base); err != nil {
				return fail(err)
			}
			kind, cnt = vObject, cnt/2
		}
		off := d.flush(base)
		d.depth--
		return container(kind, off, cnt), nil
	}
	if d.tokenType() == "number" {
		lit, _, err := d.number()
		return value{kind: vNumber, str: lit}, err
	}
	return value{}, d.synErr("expected a value")
}

// toAny builds the generic form the jsonschema validator works on.
func toAny(vals []value, v value) any {
	switch v.kind {
	case vString:
		return v.str
	case vNumber:
		return json.Number(v.str)
	case vBool:
		return v.num != 0
	case vArray:
		out := make([]any, v.count())
		for i := range out {
			out[i] = toAny(vals, vals[int(v.first())+i])
		}
		return out
	case vObject:
		out := make(map[string]any, v.count())
		for i := range int(v.count()) {
			out[vals[int(v.first())+2*i].str] = toAny(vals, vals[int(v.first())+2*i+1])
		}
		return out
	}
	return nil
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

// validationError turns the validator's error tree into one message: the
// failure at the deepest instance location (ties broken by text, so the choice
// does not depend on map order inside the validator).
func validationError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return errf("%v", err)
	}
	type leaf struct{ loc, msg string }
	var best *leaf
	var visit func(u *jsonschema.OutputUnit)
	visit = func(u *jsonschema.OutputUnit) {
		if u.Error != nil {
			l := leaf{u.InstanceLocation, u.Error.String()}
			if best == nil || len(l.loc) > len(best.loc) ||
				len(l.loc) == len(best.loc) && (l.loc < best.loc || l.loc == best.loc && l.msg < best.msg) {
				best = &l
			}
		}
		for i := range u.Errors {
			visit(&u.Errors[i])
		}
	}
	visit(ve.BasicOutput())
	if best == nil {
		return errf("%s", ve.Error())
	}
	pe := &pathError{msg: best.msg}
	if best.loc != "" {
		segs := strings.Split(strings.TrimPrefix(best.loc, "/"), "/")
		for i := len(segs) - 1; i >= 0; i-- {
			pe.segs = append(pe.segs, strings.NewReplacer("~1", "/", "~0", "~").Replace(segs[i]))
		}
	}
	return pe
}

// objGet returns the slot of key in the object at slot obj, or -1.
func objGet(vals []value, obj int, key string) int {
	if obj < 0 {
		return -1
	}
	o := vals[obj]
	if o.kind != vObject {
		return -1
	}
	for i := range int(o.count()) {
		if vals[int(o.first())+2*i].str == key {
			return int(o.first()) + 2*i + 1
		}
	}
	return -1
}

func jsLookup(vals []value, segs []string) int {
	i := 0
	for _, s := range segs {
		if i = objGet(vals, i, s); i < 0 {
			return -1
		}
	}
	return i
}

// jsSet stores v at segs, adding the property to its parent object when it is
// not there yet. The parent's pairs then move to the end of vals so that
// they stay contiguous.
func jsSet(vals []value, segs []string, v value) ([]value, error) {
	parent := jsLookup(vals, segs[:len(segs)-1])
	if parent < 0 || vals[parent].kind != vObject {
		return vals, fmt.Errorf("%w: field '%s' has no parent object in this event", ErrField, strings.Join(segs, "/"))
	}
	key := segs[len(segs)-1]
	if i := objGet(vals, parent, key); i >= 0 {
		vals[i] = v
		return vals, nil
	}
	o := vals[parent]
	off := len(vals)
	vals = append(vals, vals[o.first():o.first()+2*o.count()]...)
	vals = append(vals, value{kind: vString, str: key}, v)
	vals[parent] = container(vObject, int32(off), o.count()+1)
	return vals, nil
}

func (p *jsPlan) serialization() Serialization { return JSON }

func (p *jsPlan) decode(d *decoder, ser Serialization, validate bool) error {
	if ser != JSON {
		return d.unsupported(ser)
	}
	d.vals = make([]value, 1, 32)
	return d.jsonSchemaEvent(p.compiled, validate)
}

// encode writes JSON, the only serialization of JSON Schema events.
func (p *jsPlan) encode(dst []byte, e *Event) []byte { return p.appendJSON(dst, e) }

func (p *jsPlan) appendJSON(dst []byte, e *Event) []byte {
	return e.appendAnyJSON(dst, e.vals[0])
}

func (p *jsPlan) lookup(vals []value, f Field) int { return jsLookup(vals, f.segs) }

// set stores v at f's path; an integer becomes its decimal literal.
func (p *jsPlan) set(vals []value, f Field, v value) ([]value, error) {
	if v.kind == vLong {
		v = value{kind: vNumber, str: strconv.FormatInt(int64(v.num), 10)}
	}
	return jsSet(vals, f.segs, v)
}
