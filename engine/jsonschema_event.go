package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// jschPlan as the codec of JSON Schema events, and how a field's value is
// found in (and added to) an event's tree of objects by its path.

func (p *jschPlan) serialization() Serialization { return JSON }

func (p *jschPlan) decode(d *decoder, ser Serialization, validate bool) error {
	if ser != JSON {
		return d.unsupported(ser)
	}
	d.vals = d.startVals(1, 31)
	return d.jsonSchemaEvent(p.compiled, validate)
}

// encode writes JSON, the only serialization of JSON Schema events.
func (p *jschPlan) encode(dst []byte, e *Event) []byte { return p.appendJSON(dst, e) }

func (p *jschPlan) appendJSON(dst []byte, e *Event) []byte {
	return e.appendJSch(dst, e.vals[0])
}

func (p *jschPlan) lookup(vals []value, f Field) int { return jschLookup(vals, f.segs) }

// set stores v at f's path; an integer becomes its decimal literal.
func (p *jschPlan) set(vals []value, f Field, v value) ([]value, error) {
	if v.kind == vLong {
		v = value{kind: vNumber, str: strconv.FormatInt(int64(v.num), 10)}
	}
	return jschSet(vals, f.segs, v)
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

func jschLookup(vals []value, segs []string) int {
	i := 0
	for _, s := range segs {
		if i = objGet(vals, i, s); i < 0 {
			return -1
		}
	}
	return i
}

// jschSet stores v at segs, adding the property to its parent object when it is
// not there yet. The parent's pairs then move to the end of vals so that
// they stay contiguous.
func jschSet(vals []value, segs []string, v value) ([]value, error) {
	parent := jschLookup(vals, segs[:len(segs)-1])
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
