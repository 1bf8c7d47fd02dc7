package engine

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The JSON form of JSON Schema events, their only serialization: decoding
// (a generic tree, then validation against the compiled schema) and writing
// it back in the producer's key order.

// jsonSchemaEvent parses d.raw as a generic JSON tree and, if asked,
// validates it against the schema.
func (d *decoder) jsonSchemaEvent(compiled *jsonschema.Schema, validate bool) error {
	if d.ws(); d.pos >= len(d.raw) {
		return d.emptyErr()
	}
	v, err := d.jschValue(jschRoot)
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

// jschRole is where a JSON value sits, as far as the decoder cares: the
// document, strmMeta, strmMeta.consentLevels (whose length it bounds, see
// consentLimit) or anywhere else.
type jschRole uint8

const (
	jschOther jschRole = iota
	jschRoot
	jschMeta
	jschConsent
)

// child returns the role of the value of property key of an object in role r.
func (r jschRole) child(key string) jschRole {
	switch {
	case r == jschRoot && key == "strmMeta":
		return jschMeta
	case r == jschMeta && key == "consentLevels":
		return jschConsent
	}
	return jschOther
}

func (d *decoder) jschValue(role jschRole) (value, error) {
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
				elem := jschOther
				if c == '{' {
					elem = role.child(key)
				} else if role == jschConsent && d.consentFull(idx, 1) {
					return fail(consentCountError(d.schema.refString()))
				}
				v, err := d.jschValue(elem)
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

// appendJSch appends v, a value of a JSON Schema event, as JSON.
func (e *Event) appendJSch(dst []byte, v value) []byte {
	switch v.kind {
	case vString:
		return appendJSONString(dst, v.str)
	case vNumber:
		return append(dst, v.str...)
	case vBool:
		return strconv.AppendBool(dst, v.num != 0)
	case vArray:
		dst = append(dst, '[')
		for i := range int(v.count()) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendJSch(dst, e.vals[int(v.first())+i])
		}
		return append(dst, ']')
	case vObject:
		dst = append(dst, '{')
		for i := range int(v.count()) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e.vals[int(v.first())+2*i].str)
			dst = append(dst, ':')
			dst = e.appendJSch(dst, e.vals[int(v.first())+2*i+1])
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}
