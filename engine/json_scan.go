package engine

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner works on decoder.raw. It is written for this package rather
// than using encoding/json because decoding follows the compiled plan directly
// (no map[string]any in between), strings without escapes are substrings of
// the body, and invalid UTF-8 and lone surrogates are refused instead of being
// replaced by U+FFFD.

func (d *decoder) ws() {
	for d.pos < len(d.raw) {
		switch d.raw[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.raw) {
		return 0
	}
	return d.raw[d.pos]
}

// synErr reports a syntax error at d.pos: what was found there (a
// character, or the end of the input), then what was wanted (ctx, such as
// "expected a value").
func (d *decoder) synErr(ctx string) error {
	return d.synAt(d.pos, d.found(d.pos)+", "+ctx)
}

// synAt reports a syntax error at byte pos of the body. Syntax errors name
// no field: decode replaces whatever the plan-driven decoder reported with
// the first syntax error of the body (see syntaxError), and where that sits
// in the schema is beside the point.
func (d *decoder) synAt(pos int, what string) error {
	return &pathError{msg: "invalid JSON at byte " + strconv.Itoa(pos) + ": " + what, syntax: true}
}

// found describes what is at byte pos: the end of the input or a
// character, quoted as Go quotes a rune ('x', '\n', 'é').
func (d *decoder) found(pos int) string {
	if pos >= len(d.raw) {
		return "unexpected end of input"
	}
	return "invalid character " + d.char(pos)
}

func (d *decoder) char(pos int) string {
	c := d.raw[pos]
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	r, size := utf8.DecodeRuneInString(d.raw[pos:])
	if r == utf8.RuneError && size == 1 {
		return "byte 0x" + strconv.FormatUint(uint64(c), 16) + " (not UTF-8)"
	}
	return strconv.QuoteRune(r)
}

// expect consumes c after whitespace.
func (d *decoder) expect(c byte, what string) error {
	if d.peek() != c {
		return d.synErr(what)
	}
	d.pos++
	return nil
}

// tokenType names the JSON type of the next value for "got ..." messages, or
// returns "" when no value starts here.
func (d *decoder) tokenType() string {
	switch c := d.peek(); {
	case c == '"':
		return "string"
	case c == '-' || '0' <= c && c <= '9':
		return "number"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	}
	return ""
}

// typeErr reports that the next value is not of the wanted type.
func (d *decoder) typeErr(want string) error {
	got := d.tokenType()
	if got == "" {
		return d.synErr("expected a value")
	}
	return errf("expected %s, got %s", want, got)
}

// literal consumes one of true, false, null.
func (d *decoder) literal(word string) error {
	if len(d.raw)-d.pos >= len(word) && d.raw[d.pos:d.pos+len(word)] == word {
		d.pos += len(word)
		return nil
	}
	i := 0
	for d.pos+i < len(d.raw) && d.raw[d.pos+i] == word[i] {
		i++
	}
	return d.synAt(d.pos+i, d.found(d.pos+i)+" in literal "+word+" (expected '"+word[i:i+1]+"')")
}

// str consumes a string; d.raw[d.pos] must be '"'.
func (d *decoder) str() (string, error) {
	start := d.pos + 1
	for i := start; i < len(d.raw); {
		c := d.raw[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return d.raw[start:i], nil
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			return "", d.ctrlErr(i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.raw[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.synAt(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
	return "", d.unterminated()
}

func (d *decoder) ctrlErr(i int) error {
	return d.synAt(i, "invalid character "+d.char(i)+" in string (control characters must be escaped)")
}

func (d *decoder) unterminated() error {
	return d.synAt(len(d.raw), "unexpected end of input in string (expected '\"')")
}

// strEscaped finishes a string that has escapes; raw[start:i] is plain.
func (d *decoder) strEscaped(start, i int) (string, error) {
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, d.raw[start:i]...)
	for i < len(d.raw) {
		c := d.raw[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(d.raw) {
				return "", d.unterminated()
			}
			e := d.raw[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d.raw, i)
				if !ok {
					return "", d.synAt(i-2, "invalid \\u escape in string (expected 4 hex digits)")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+6 <= len(d.raw) && d.raw[i] == '\\' && d.raw[i+1] == 'u' {
						r2, ok = hex4(d.raw, i+2)
					}
					r = utf16.DecodeRune(r, r2)
					if !ok || r == utf8.RuneError {
						return "", d.synAt(i-6, "invalid \\u escape in string: unpaired surrogate")
					}
					i += 6
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.synAt(i-2, "invalid escape character "+d.char(i-1)+" in string")
			}
		case c < 0x20:
			return "", d.ctrlErr(i)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.raw[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.synAt(i, "invalid UTF-8 in string")
			}
			buf = append(buf, d.raw[i:i+size]...)
			i += size
		}
	}
	return "", d.unterminated()
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number consumes a number and returns it as written; isInt is false when it
// has a fraction or an exponent.
func (d *decoder) number() (lit string, isInt bool, err error) {
	s, i := d.raw, d.pos
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return "", false, d.numErr(i)
	}
	isInt = true
	if i < len(s) && s[i] == '.' {
		i++
		isInt = false
		if !digits() {
			return "", false, d.numErr(i)
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		isInt = false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return "", false, d.numErr(i)
		}
	}
	lit = s[d.pos:i]
	d.pos = i
	return lit, isInt, nil
}

func (d *decoder) numErr(i int) error {
	return d.synAt(i, d.found(i)+" in number (expected a digit)")
}

// skip consumes one value of any type, checking its syntax.
func (d *decoder) skip() error {
	switch d.peek() {
	case '"':
		_, err := d.str()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '[':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				d.depth--
				return nil
			default:
				return d.synErr("expected ',' or ']'")
			}
		}
	case '{':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == '}' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if d.peek() != '"' {
				return d.synErr("expected a property name")
			}
			if _, err := d.str(); err != nil {
				return err
			}
			if err := d.expect(':', "expected ':'"); err != nil {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case '}':
				d.pos++
				d.depth--
				return nil
			default:
				return d.synErr("expected ',' or '}'")
			}
		}
	}
	if d.tokenType() == "number" {
		_, _, err := d.number()
		return err
	}
	return d.synErr("expected a value")
}

// end refuses anything but whitespace after the event. Past it, the body is
// known to be well-formed JSON.
func (d *decoder) end() error {
	if d.ws(); d.pos < len(d.raw) { // not peek: a NUL byte is data, not the end
		return d.trailing()
	}
	d.wellFormed = true
	return nil
}

func (d *decoder) trailing() error {
	return d.synAt(d.pos, d.found(d.pos)+" after the event (a body holds one JSON value)")
}

// emptyErr refuses a body without a value.
func (d *decoder) emptyErr() error {
	why := "the body is empty"
	if len(d.raw) > 0 {
		why = "the body is only whitespace"
	}
	return d.synAt(len(d.raw), "unexpected end of input, expected a value ("+why+")")
}

// syntaxError scans the whole body as JSON and returns its first syntax
// error, or nil when it is one well-formed JSON value. decode calls it only
// after the plan-driven decoder failed on a body it had not read to the
// end, so that every JSON body is judged on its syntax first: "not json" is
// invalid JSON at byte 1, not a null where a record was expected. The
// happy path never pays for it. It keeps its own stack of open containers
// instead of recursing, so it has no nesting limit and reports a syntax
// error past the depth the decoder refuses.
func (d *decoder) syntaxError() error {
	d.pos = 0
	if d.ws(); d.pos >= len(d.raw) {
		return d.emptyErr()
	}
	var open []byte // the closers of the containers the scan is inside
	for {
		// A value starts here.
		switch c := d.peek(); {
		case c == '{' || c == '[':
			d.pos++
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if d.peek() == closer {
				d.pos++
				break
			}
			open = append(open, closer)
			if c == '{' {
				if err := d.synKey(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, err := d.str(); err != nil {
				return err
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		case c == '-' || '0' <= c && c <= '9':
			if _, _, err := d.number(); err != nil {
				return err
			}
		default:
			return d.synErr("expected a value")
		}
		// After a value: close containers, then go on to the next element.
		for {
			if len(open) == 0 {
				if d.ws(); d.pos < len(d.raw) {
					return d.trailing()
				}
				return nil
			}
			closer := open[len(open)-1]
			c := d.peek()
			if c == closer {
				d.pos++
				open = open[:len(open)-1]
				continue
			}
			if c != ',' {
				if closer == '}' {
					return d.synErr("expected ',' or '}' after a property value")
				}
				return d.synErr("expected ',' or ']' after an array element")
			}
			d.pos++
			if closer == '}' {
				if err := d.synKey(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// synKey scans a property name and its colon.
func (d *decoder) synKey() error {
	if d.peek() != '"' {
		return d.synErr("expected a property name in double quotes")
	}
	if _, err := d.str(); err != nil {
		return err
	}
	if d.peek() != ':' {
		return d.synErr("expected ':' after a property name")
	}
	d.pos++
	return nil
}
