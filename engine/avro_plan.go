package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// atype is an Avro type in a decode plan; logical types are decoded as their
// underlying type.
type atype uint8

const (
	aNull atype = iota + 1
	aBoolean
	aInt
	aLong
	aFloat
	aDouble
	aBytes
	aString
	aFixed
	aEnum
	aArray
	aMap
	aRecord
	aUnion
)

// anode is one position in an Avro decode plan. Plans are built once per schema
// so that decoding walks plain structs instead of hamba's schema interfaces.
type anode struct {
	t        atype
	name     string // full name of a named type
	fields   []afield
	fixedOff int32  // record: first slot of its fields in the fixed part, or -1 when they are appended per event
	elem     *anode // array items, map values
	branches []*anode
	nullBr   int32 // union: index of the null branch, -1 if none
	symbols  []string
	size     int    // fixed
	minSize  int    // fewest bytes one encoded value takes; bounds array and map counts
	consent  bool   // array: this is strmMeta.consentLevels, whose length the decoder bounds
	desc     string // type as error messages name it
}

type afield struct {
	name   string
	node   *anode
	quoted string // `"name":`, ready for JSON rendering
	def    string // Avro binary encoding of the default, used when lenient JSON omits the field
	hasDef bool
}

// avroPlan lays an event out as one slice of values. Records reachable from
// the top level without crossing an array or a map sit at fixed slots (the
// "fixed part"), so that a contract path resolves to a slot index once, at
// compile time, and reading or replacing a PII field is one slice access.
// Values inside arrays and maps are appended after the fixed part.
//
// avroPlan is the codec of Avro schemas (avro_event.go).
type avroPlan struct {
	root   *anode
	nfixed int32 // slots of the fixed part; the root record is slot 0
}

type planBuilder struct {
	nslots  int32
	dynamic map[string]*anode // records laid out per event, shared by name so recursive types terminate
	onPath  map[string]bool   // fixed records being built: meeting one again means recursion
	fields  []Field
}

func compileAvro(s *Schema) error {
	var probe any
	if err := json.Unmarshal([]byte(s.definition), &probe); err != nil {
		return schemaError("", "definition is not valid JSON: %v", err)
	}
	if obj, ok := probe.(map[string]any); ok && obj["type"] == nil {
		return schemaError("", `the top level must be a record, {"type": "record", "name": ..., "fields": [...]}, but has no "type"`)
	}
	// A private cache keeps named types of one schema from leaking into another.
	parsed, err := avro.ParseBytesWithCache([]byte(s.definition), "", &avro.SchemaCache{})
	if err != nil {
		return schemaError("", "invalid Avro schema: %s", strings.TrimPrefix(err.Error(), "avro: "))
	}
	rec, ok := parsed.(*avro.RecordSchema)
	if !ok {
		return schemaError("", "the top level must be a record, got %s", parsed.Type())
	}
	b := &planBuilder{nslots: 1, dynamic: map[string]*anode{}, onPath: map[string]bool{}}
	root := b.node(rec, true)
	plan := &avroPlan{root: root, nfixed: b.nslots}
	if err := checkAvroMeta(root); err != nil {
		return err
	}
	b.index("", root)
	computeMinSize(root, map[*anode]bool{})

	fp, err := rec.FingerprintUsing(avro.CRC64Avro)
	if err != nil {
		return schemaError("", "fingerprint: %v", err)
	}
	s.fingerprint = strconv.FormatInt(int64(binary.BigEndian.Uint64(fp)), 10)
	s.codec = plan
	s.fields = b.fields
	return nil
}

func (b *planBuilder) node(sch avro.Schema, fixed bool) *anode {
	if r, ok := sch.(*avro.RefSchema); ok {
		sch = r.Schema()
	}
	switch sch := sch.(type) {
	case *avro.NullSchema:
		return &anode{t: aNull, desc: "null"}
	case *avro.PrimitiveSchema:
		var t atype
		switch sch.Type() {
		case avro.Boolean:
			t = aBoolean
		case avro.Int:
			t = aInt
		case avro.Long:
			t = aLong
		case avro.Float:
			t = aFloat
		case avro.Double:
			t = aDouble
		case avro.Bytes:
			t = aBytes
		case avro.String:
			t = aString
		case avro.Null:
			t = aNull
		}
		return &anode{t: t, desc: string(sch.Type())}
	case *avro.EnumSchema:
		return &anode{t: aEnum, name: sch.FullName(), symbols: sch.Symbols(), desc: "enum " + sch.Name()}
	case *avro.FixedSchema:
		return &anode{t: aFixed, name: sch.FullName(), size: sch.Size(), desc: "fixed " + sch.Name()}
	case *avro.ArraySchema:
		n := &anode{t: aArray, elem: b.node(sch.Items(), false)}
		n.desc = "array of " + n.elem.desc
		return n
	case *avro.MapSchema:
		n := &anode{t: aMap, elem: b.node(sch.Values(), false)}
		n.desc = "map of " + n.elem.desc
		return n
	case *avro.UnionSchema:
		n := &anode{t: aUnion, nullBr: -1}
		for i, t := range sch.Types() {
			bn := b.node(t, fixed)
			if bn.t == aNull {
				n.nullBr = int32(i)
			}
			n.branches = append(n.branches, bn)
		}
		n.desc = unionDesc(n)
		return n
	case *avro.RecordSchema:
		name := sch.FullName()
		if fixed && !b.onPath[name] {
			n := &anode{t: aRecord, name: name, fixedOff: b.nslots, desc: "record " + sch.Name()}
			b.nslots += int32(len(sch.Fields()))
			b.onPath[name] = true
			b.recordFields(n, sch, true)
			delete(b.onPath, name)
			return n
		}
		if n, ok := b.dynamic[name]; ok {
			return n
		}
		n := &anode{t: aRecord, name: name, fixedOff: -1, desc: "record " + sch.Name()}
		b.dynamic[name] = n
		b.recordFields(n, sch, false)
		return n
	}
	// hamba resolves every type to one of the above; reaching here is a bug.
	panic("engine: unexpected Avro schema type " + string(sch.Type()))
}

func (b *planBuilder) recordFields(n *anode, sch *avro.RecordSchema, fixed bool) {
	n.fields = make([]afield, len(sch.Fields()))
	for i, f := range sch.Fields() {
		af := afield{name: f.Name(), quoted: strconv.Quote(f.Name()) + ":"}
		af.node = b.node(f.Type(), fixed)
		if f.HasDefault() {
			// hamba has validated the default against the type; encoding it once
			// lets an omitted JSON field be filled by the ordinary binary decoder.
			if enc, err := avro.Marshal(f.Type(), f.Default()); err == nil {
				af.def, af.hasDef = string(enc), true
			}
		}
		n.fields[i] = af
	}
}

func unionDesc(n *anode) string {
	if len(n.branches) == 2 && n.nullBr >= 0 {
		return "nullable " + n.branches[1-n.nullBr].desc
	}
	names := make([]string, len(n.branches))
	for i, b := range n.branches {
		names[i] = b.desc
	}
	return "one of [" + strings.Join(names, ", ") + "]"
}

// computeMinSize fills minSize bottom-up. A record met again while computing
// (recursion) counts as 0, which only makes the bound looser.
func computeMinSize(n *anode, busy map[*anode]bool) int {
	if busy[n] {
		return 0
	}
	busy[n] = true
	defer delete(busy, n)
	switch n.t {
	case aNull:
		n.minSize = 0
	case aFloat:
		n.minSize = 4
	case aDouble:
		n.minSize = 8
	case aFixed:
		n.minSize = n.size
	case aArray, aMap:
		computeMinSize(n.elem, busy)
		n.minSize = 1
	case aUnion:
		least := -1
		for _, b := range n.branches {
			if m := computeMinSize(b, busy); least < 0 || m < least {
				least = m
			}
		}
		n.minSize = 1 + max(least, 0)
	case aRecord:
		total := 0
		for _, f := range n.fields {
			total += computeMinSize(f.node, busy)
		}
		n.minSize = total
	default:
		n.minSize = 1
	}
	return n.minSize
}

// index adds every field of the fixed part to the field index.
func (b *planBuilder) index(prefix string, n *anode) {
	for i, f := range n.fields {
		fld := Field{Path: f.name, slot: n.fixedOff + int32(i), nullBr: -1}
		if prefix != "" {
			fld.Path = prefix + "/" + f.name
		}
		fn := f.node
		if fn.t == aUnion && len(fn.branches) == 2 && fn.nullBr >= 0 {
			fld.Nullable = true
			fld.nullBr = fn.nullBr
			fn = fn.branches[1-fn.nullBr]
		}
		fld.Kind = avroKind(fn)
		b.fields = append(b.fields, fld)
		if fn.t == aRecord && fn.fixedOff >= 0 {
			b.index(fld.Path, fn)
		}
	}
}

func avroKind(n *anode) Kind {
	switch n.t {
	case aNull:
		return KindNull
	case aBoolean:
		return KindBoolean
	case aInt:
		return KindInt
	case aLong:
		return KindLong
	case aFloat:
		return KindFloat
	case aDouble:
		return KindDouble
	case aBytes:
		return KindBytes
	case aString:
		return KindString
	case aFixed:
		return KindFixed
	case aEnum:
		return KindEnum
	case aArray:
		return KindArray
	case aMap:
		return KindMap
	case aRecord:
		return KindRecord
	case aUnion:
		return KindUnion
	}
	return KindInvalid
}

// strmMetaSpec is the strmMeta shape of docs/registry.md ("strmMeta"), for
// both schema types. billingId is optional: the platform ignores it, so
// a schema that leaves it out loses nothing.
var strmMetaSpec = []struct {
	name     string
	want     string // Avro description
	jsonWant string // JSON Schema description
	required bool
}{
	{"eventContractRef", "string", "string", true},
	{"nonce", "nullable int", "nullable integer", true},
	{"timestamp", "nullable long", "nullable integer", true},
	{"keyLink", "nullable string", "nullable string", true},
	{"billingId", "nullable string", "nullable string", false},
	{"consentLevels", "array of int", "array of integer", true},
}

const strmMetaRequired = "strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"

// checkAvroMeta checks the strmMeta record against strmMetaSpec. Its fields
// are then in the field index, which is how events find them (Schema.meta).
func checkAvroMeta(root *anode) error {
	mi := -1
	for i, f := range root.fields {
		if f.name == "strmMeta" {
			mi = i
		}
	}
	if mi < 0 {
		return schemaError("strmMeta", strmMetaRequired)
	}
	mn := root.fields[mi].node
	if mn.t != aRecord || mn.fixedOff < 0 {
		return schemaError("strmMeta", "strmMeta: expected record, got %s", mn.desc)
	}
	var errs []error
	for _, spec := range strmMetaSpec {
		fi := -1
		for i, f := range mn.fields {
			if f.name == spec.name {
				fi = i
			}
		}
		if fi < 0 {
			if spec.required {
				errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: missing, expected %s", spec.name, spec.want))
			}
			continue
		}
		fn := mn.fields[fi].node
		if fn.desc != spec.want {
			errs = append(errs, schemaError("strmMeta."+spec.name, "strmMeta.%s: expected %s, got %s", spec.name, spec.want, fn.desc))
			continue
		}
		// strmMeta sits in the fixed part, so this node is this field's
		// alone: no other array of the schema shares it.
		fn.consent = spec.name == "consentLevels"
	}
	return errors.Join(errs...)
}
