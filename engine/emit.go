package engine

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// EmitFilter keeps only the events whose value at Path is one of Values
// (docs/pipeline.md, "Emit filters"): values compare as strings after JSON
// rendering (a string as itself, 3 as "3", true as "true"), and "null"
// matches a null or absent field.
type EmitFilter struct {
	Path   string   `json:"path"`
	Values []string `json:"values"`
}

// String is the filter as it is written: path=v1,v2.
func (f EmitFilter) String() string { return f.Path + "=" + strings.Join(f.Values, ",") }

// ParseEmitFilter parses "path=v1,v2" (paths use '/' as contracts do).
func ParseEmitFilter(s string) (EmitFilter, error) {
	path, values, ok := strings.Cut(s, "=")
	path = strings.TrimSpace(path)
	switch {
	case !ok || path == "":
		return EmitFilter{}, viewError("emitFilter", "emitFilter: %q is not field=value[,value...]", s)
	case values == "":
		return EmitFilter{}, viewError("emitFilter", "emitFilter: %q has no values: give field=value[,value...]", s)
	}
	f := EmitFilter{Path: path}
	for v := range strings.SplitSeq(values, ",") {
		if v == "" {
			return EmitFilter{}, viewError("emitFilter", "emitFilter: %q has an empty value", s)
		}
		if !slices.Contains(f.Values, v) {
			f.Values = append(f.Values, v)
		}
	}
	return f, nil
}

// scalar reports whether an emit filter can compare a field of kind k.
func scalar(k Kind) bool {
	switch k {
	case KindNull, KindBoolean, KindInt, KindLong, KindFloat, KindDouble, KindString, KindEnum, KindInteger, KindNumber, KindAny:
		return true
	}
	return false
}

// CheckEmitFilter checks the view's emit filter against contract cc: the
// field must be a scalar field of cc's schema that the view shows as it is:
// not PII of a level it leaves encrypted, and not masked. exists is false
// when cc's schema has no such field (it may belong to another contract's
// events; the caller decides whether any contract has it).
func (v View) CheckEmitFilter(cc *CompiledContract) (exists bool, err error) {
	if v.Emit == nil {
		return false, nil
	}
	path := v.Emit.Path
	f, ok := cc.schema.Field(path)
	if !ok {
		return false, nil
	}
	ref := cc.contract.Ref
	switch {
	case !scalar(f.Kind):
		return true, viewError("emitFilter", "emitFilter: field '%s' of contract '%s' is %s; filter on a field with one value (a string, number, boolean or enum)", path, ref, f)
	case slices.Contains(v.Masked[ref.String()], path):
		return true, viewError("emitFilter", "emitFilter: field '%s' is masked in events of contract '%s'; filter on a field the stream shows as it is", path, ref)
	}
	for _, p := range cc.pii {
		if p.Field.Path == path && !v.Decrypts(p.Level) {
			return true, viewError("emitFilter", "emitFilter: field '%s' is PII of consent level %d in contract '%s', which this stream (%s %s) does not decrypt: it could only compare ciphertext; filter on a field it can read",
				path, p.Level, ref, v.Type, joinLevels(v.Levels, ","))
		}
	}
	return true, nil
}

// emits reports whether the filter keeps ev, as the view shows it.
func (f *EmitFilter) emits(ev *Event) bool {
	field, ok := ev.schema.Field(f.Path)
	text := "null"
	if ok {
		text = ev.text(field)
	}
	return slices.Contains(f.Values, text)
}

// text renders the value at f for an emit filter: a string or an enum
// symbol as itself, another scalar as its JSON, "null" for null or absent.
func (e *Event) text(f Field) string {
	i := e.slot(f)
	if i < 0 {
		return "null"
	}
	v := e.vals[i]
	switch v.kind {
	case vString, vEnum, vNumber:
		return v.str
	case vBool:
		return strconv.FormatBool(v.num != 0)
	case vInt, vLong:
		return strconv.FormatInt(int64(v.num), 10)
	case vFloat:
		return string(appendFloat(nil, float64(math.Float32frombits(uint32(v.num))), 32))
	case vDouble:
		return string(appendFloat(nil, math.Float64frombits(v.num), 64))
	case vAbsent, vNull:
		return "null"
	}
	return fmt.Sprintf("<%d>", v.kind) // a container: matches no value
}
