package engine

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lenient JSON for Avro schemas, as the platform's gateway accepted it:
//   - a nullable field (a union with null) may be omitted and is then null;
//     a field with a default may be omitted and takes the default;
//   - union values are given bare ("x", 5, {...}); the Avro JSON encoding's
//     type-wrapped form ({"string": "x"}) is accepted too. A one-key object
//     whose key names a branch of the union is read as wrapped;
//   - bytes and fixed are strings whose code points 0-255 are the bytes (as in
//     Avro's JSON encoding); floats also accept "NaN", "Infinity", "-Infinity";
//   - unknown and repeated fields are refused.

func (d *decoder) avroJSON(root *anode) error {
	if d.ws(); d.pos >= len(d.raw) {
		return d.emptyErr()
	}
	v, err := d.ajson(root)
	if err != nil {
		return err
	}
	d.vals[0] = v
	return d.end()
}

// ajson decodes the next JSON value as plan node n.
func (d *decoder) ajson(n *anode) (value, error) {
	c := d.peek()
	switch n.t {
	case aUnion:
		return d.ajsonUnion(n)
	case aNull:
		if c == 'n' {
			return value{kind: vNull}, d.literal("null")
		}
	case aBoolean:
		if c == 't' {
			return value{kind: vBool, num: 1}, d.literal("true")
		}
		if c == 'f' {
			return value{kind: vBool}, d.literal("false")
		}
	case aInt, aLong, aFloat, aDouble:
		if c == '-' || '0' <= c && c <= '9' {
			lit, isInt, err := d.number()
			if err != nil {
				return value{}, err
			}
			v, msg := numValue(n, lit, isInt)
			if msg != "" {
				return value{}, errf("%s", msg)
			}
			return v, nil
		}
		if c == '"' && (n.t == aFloat || n.t == aDouble) {
			return d.ajsonString(n)
		}
	case aString, aBytes, aFixed, aEnum:
		if c == '"' {
			return d.ajsonString(n)
		}
	case aRecord:
		if c == '{' {
			return d.ajsonRecord(n)
		}
	case aArray:
		if c == '[' {
			return d.ajsonArray(n)
		}
	case aMap:
		if c == '{' {
			return d.ajsonMap(n)
		}
	}
	return value{}, d.typeErr(n.desc)
}

func (d *decoder) ajsonString(n *anode) (value, error) {
	s, err := d.str()
	if err != nil {
		return value{}, err
	}
	v, msg := strValue(n, s)
	if msg != "" {
		return value{}, errf("%s", msg)
	}
	return v, nil
}

// numValue converts a JSON number to a value of numeric node n; msg explains
// a refusal.
func numValue(n *anode, lit string, isInt bool) (value, string) {
	switch n.t {
	case aInt, aLong:
		if !isInt {
			return value{}, "expected " + n.desc + ", got a number with a fraction or exponent"
		}
		bits := 64
		if n.t == aInt {
			bits = 32
		}
		x, err := strconv.ParseInt(lit, 10, bits)
		if err != nil {
			return value{}, "expected " + n.desc + ", got a number out of range"
		}
		if n.t == aInt {
			return value{kind: vInt, num: uint64(x)}, ""
		}
		return value{kind: vLong, num: uint64(x)}, ""
	case aFloat:
		f, err := strconv.ParseFloat(lit, 32)
		if err != nil {
			return value{}, "expected float, got a number out of range"
		}
		return value{kind: vFloat, num: uint64(math.Float32bits(float32(f)))}, ""
	case aDouble:
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return value{}, "expected double, got a number out of range"
		}
		return value{kind: vDouble, num: math.Float64bits(f)}, ""
	}
	return value{}, "expected " + n.desc + ", got number"
}

// strValue converts a JSON string to a value of node n; msg explains a refusal.
func strValue(n *anode, s string) (value, string) {
	switch n.t {
	case aString:
		return value{kind: vString, str: s}, ""
	case aBytes, aFixed:
		b, ok := latin1(s)
		if !ok {
			return value{}, "expected " + n.desc + ", got a string with characters above U+00FF"
		}
		if n.t == aBytes {
			return value{kind: vBytes, str: b}, ""
		}
		if len(b) != n.size {
			return value{}, "expected " + n.desc + " of " + strconv.Itoa(n.size) + " bytes, got " + strconv.Itoa(len(b))
		}
		return value{kind: vFixed, str: b}, ""
	case aEnum:
		for i, sym := range n.symbols {
			if sym == s {
				return value{kind: vEnum, num: uint64(i), str: sym}, ""
			}
		}
		return value{}, "expected " + n.desc + " (one of " + strings.Join(n.symbols, ", ") + "), got '" + s + "'"
	case aFloat, aDouble:
		var f float64
		switch s {
		case "NaN":
			f = math.NaN()
		case "Infinity":
			f = math.Inf(1)
		case "-Infinity":
			f = math.Inf(-1)
		default:
			return value{}, "expected " + n.desc + ", got string"
		}
		if n.t == aFloat {
			return value{kind: vFloat, num: uint64(math.Float32bits(float32(f)))}, ""
		}
		return value{kind: vDouble, num: math.Float64bits(f)}, ""
	}
	return value{}, "expected " + n.desc + ", got string"
}

// latin1 maps code points 0-255 to bytes, as Avro's JSON encoding of bytes does.
func latin1(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return "", false
		}
		b = append(b, byte(r))
	}
	return string(b), true
}

func (d *decoder) ajsonRecord(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	d.pos++ // '{'
	off := n.fixedOff
	if off < 0 {
		var err error
		if off, err = d.reserve(len(n.fields)); err != nil {
			return value{}, err
		}
	}
	if d.peek() == '}' {
		d.pos++
	} else {
		next := 0
		for {
			if d.peek() != '"' {
				return value{}, d.synErr("expected a field name")
			}
			key, err := d.str()
			if err != nil {
				return value{}, err
			}
			i := n.fieldIndex(key, next)
			if i < 0 {
				return value{}, fieldErr(key, "is not in the schema")
			}
			if d.vals[int(off)+i].kind != vAbsent {
				return value{}, fieldErr(key, "appears more than once")
			}
			if err := d.expect(':', "expected ':' after a field name"); err != nil {
				return value{}, err
			}
			v, err := d.ajson(n.fields[i].node)
			if err != nil {
				return value{}, inField(err, key)
			}
			d.vals[int(off)+i] = v
			next = i + 1
			c := d.peek()
			if c == '}' {
				d.pos++
				break
			}
			if c != ',' {
				return value{}, d.synErr("expected ',' or '}' after a field")
			}
			d.pos++
		}
	}
	for i := range n.fields {
		if d.vals[int(off)+i].kind != vAbsent {
			continue
		}
		f := &n.fields[i]
		switch {
		case f.hasDef:
			v, err := d.binDefault(f)
			if err != nil {
				return value{}, inField(err, f.name)
			}
			d.vals[int(off)+i] = v
		case f.node.t == aUnion && f.node.nullBr >= 0:
			d.vals[int(off)+i] = value{kind: vNull, branch: f.node.nullBr}
		case f.node.t == aNull:
			d.vals[int(off)+i] = value{kind: vNull}
		default:
			return value{}, fieldErr(f.name, "is missing (it is not nullable and has no default)")
		}
	}
	d.depth--
	return container(vRecord, off, len(n.fields)), nil
}

// binDefault decodes a field's default, stored as Avro binary in the plan.
func (d *decoder) binDefault(f *afield) (value, error) {
	raw, pos := d.raw, d.pos
	d.raw, d.pos = f.def, 0
	v, err := d.bin(f.node)
	d.raw, d.pos = raw, pos
	return v, err
}

// fieldIndex finds a field by name, trying first the one after the previous
// match because producers usually write fields in schema order.
func (n *anode) fieldIndex(name string, next int) int {
	if next < len(n.fields) && n.fields[next].name == name {
		return next
	}
	for i := range n.fields {
		if n.fields[i].name == name {
			return i
		}
	}
	return -1
}

func (d *decoder) ajsonArray(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	d.pos++ // '['
	base := len(d.stack)
	fail := func(err error) (value, error) {
		d.stack = d.stack[:base]
		return value{}, err
	}
	if d.peek() == ']' {
		d.pos++
	} else {
		for {
			if n.consent && d.consentFull(len(d.stack)-base, 1) {
				return fail(consentCountError(d.schema.refString()))
			}
			v, err := d.ajson(n.elem)
			if err == nil {
				err = d.push(v)
			}
			if err != nil {
				return fail(inIndex(err, len(d.stack)-base))
			}
			c := d.peek()
			if c == ']' {
				d.pos++
				break
			}
			if c != ',' {
				return fail(d.synErr("expected ',' or ']' in an array"))
			}
			d.pos++
		}
	}
	cnt := len(d.stack) - base
	off := d.flush(base)
	d.depth--
	return container(vArray, off, cnt), nil
}

func (d *decoder) ajsonMap(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	d.pos++ // '{'
	base := len(d.stack)
	fail := func(err error) (value, error) {
		d.stack = d.stack[:base]
		return value{}, err
	}
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			if d.peek() != '"' {
				return fail(d.synErr("expected a map key"))
			}
			k, err := d.str()
			if err == nil {
				err = d.push(value{kind: vString, str: k})
			}
			if err != nil {
				return fail(err)
			}
			if err := d.expect(':', "expected ':' after a map key"); err != nil {
				return fail(err)
			}
			v, err := d.ajson(n.elem)
			if err == nil {
				err = d.push(v)
			}
			if err != nil {
				return fail(inField(err, k))
			}
			c := d.peek()
			if c == '}' {
				d.pos++
				break
			}
			if c != ',' {
				return fail(d.synErr("expected ',' or '}' in a map"))
			}
			d.pos++
		}
	}
	if err := d.checkDupKeys(base); err != nil {
		return fail(err)
	}
	cnt := (len(d.stack) - base) / 2
	off := d.flush(base)
	d.depth--
	return container(vMap, off, cnt), nil
}

func (d *decoder) ajsonUnion(n *anode) (value, error) {
	c := d.peek()
	pick := func(i int, v value, err error) (value, error) {
		v.branch = int32(i)
		return v, err
	}
	switch {
	case c == 'n':
		if n.nullBr >= 0 {
			return pick(int(n.nullBr), value{kind: vNull}, d.literal("null"))
		}
	case c == '{':
		if i := d.wrappedBranch(n); i >= 0 {
			d.pos++ // '{'
			d.peek()
			if _, err := d.str(); err != nil {
				return value{}, err
			}
			d.peek()
			d.pos++ // ':'
			v, err := d.ajson(n.branches[i])
			if err != nil {
				return value{}, err
			}
			d.peek()
			d.pos++ // '}'
			return pick(i, v, nil)
		}
		if other := nonNull(n); other >= 0 {
			v, err := d.ajson(n.branches[other])
			return pick(other, v, err)
		}
		for i, b := range n.branches {
			if b.t == aRecord || b.t == aMap {
				v, err := d.ajson(b)
				return pick(i, v, err)
			}
		}
	case nonNull(n) >= 0:
		// [null, T] given a non-null value: decode as T for a precise message.
		other := nonNull(n)
		v, err := d.ajson(n.branches[other])
		return pick(other, v, err)
	case c == '[':
		for i, b := range n.branches {
			if b.t == aArray {
				v, err := d.ajson(b)
				return pick(i, v, err)
			}
		}
	case c == 't' || c == 'f':
		for i, b := range n.branches {
			if b.t == aBoolean {
				v, err := d.ajson(b)
				return pick(i, v, err)
			}
		}
	case c == '"':
		save := d.pos
		s, err := d.str()
		if err != nil {
			return value{}, err
		}
		for i, b := range n.branches {
			if v, msg := strValue(b, s); msg == "" {
				return pick(i, v, nil)
			}
		}
		d.pos = save
	case c == '-' || '0' <= c && c <= '9':
		save := d.pos
		lit, isInt, err := d.number()
		if err != nil {
			return value{}, err
		}
		for i, b := range n.branches {
			if v, msg := numValue(b, lit, isInt); msg == "" {
				return pick(i, v, nil)
			}
		}
		d.pos = save
	}
	return value{}, d.typeErr(n.desc)
}

// wrappedBranch looks ahead at an object: if it has exactly one key and the key
// names a branch of n (full or short name for named types, the type name
// otherwise), it returns that branch; else -1. Nothing is consumed.
func (d *decoder) wrappedBranch(n *anode) int {
	save, depth := d.pos, d.depth
	defer func() { d.pos, d.depth = save, depth }()
	d.pos++ // '{'
	if d.peek() != '"' {
		return -1
	}
	key, err := d.str()
	if err != nil || d.peek() != ':' {
		return -1
	}
	d.pos++
	if d.skip() != nil || d.peek() != '}' {
		return -1
	}
	for i, b := range n.branches {
		if branchName(b, key) {
			return i
		}
	}
	return -1
}

func branchName(b *anode, key string) bool {
	if b.name != "" {
		return key == b.name || key == b.name[strings.LastIndexByte(b.name, '.')+1:]
	}
	switch b.t {
	case aNull:
		return key == "null"
	case aBoolean:
		return key == "boolean"
	case aInt:
		return key == "int"
	case aLong:
		return key == "long"
	case aFloat:
		return key == "float"
	case aDouble:
		return key == "double"
	case aBytes:
		return key == "bytes"
	case aString:
		return key == "string"
	case aArray:
		return key == "array"
	case aMap:
		return key == "map"
	}
	return false
}

// nonNull returns the other branch of a [null, T] union, or -1.
func nonNull(n *anode) int {
	if len(n.branches) == 2 && n.nullBr >= 0 {
		return int(1 - n.nullBr)
	}
	return -1
}

// appendAvroJSON appends v, a value of plan node n, as plain JSON: the egress
// shape described at Event.AppendJSON.
func (e *Event) appendAvroJSON(dst []byte, n *anode, v value) []byte {
	if n.t == aUnion {
		n = n.branches[v.branch]
	}
	switch n.t {
	case aNull:
		return append(dst, "null"...)
	case aBoolean:
		return strconv.AppendBool(dst, v.num != 0)
	case aInt, aLong:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case aFloat:
		return appendFloat(dst, float64(math.Float32frombits(uint32(v.num))), 32)
	case aDouble:
		return appendFloat(dst, math.Float64frombits(v.num), 64)
	case aString, aEnum:
		return appendJSONString(dst, v.str)
	case aBytes, aFixed:
		return appendJSONLatin1(dst, v.str)
	case aRecord:
		dst = append(dst, '{')
		for i := range n.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, n.fields[i].quoted...)
			dst = e.appendAvroJSON(dst, n.fields[i].node, e.vals[int(v.first())+i])
		}
		return append(dst, '}')
	case aArray:
		dst = append(dst, '[')
		for i := range int(v.count()) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendAvroJSON(dst, n.elem, e.vals[int(v.first())+i])
		}
		return append(dst, ']')
	case aMap:
		dst = append(dst, '{')
		for i := range int(v.count()) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e.vals[int(v.first())+2*i].str)
			dst = append(dst, ':')
			dst = e.appendAvroJSON(dst, n.elem, e.vals[int(v.first())+2*i+1])
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}
