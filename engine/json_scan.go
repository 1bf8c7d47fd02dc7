package engine

import (
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

func (d *decoder) synErr(what string) error {
	if d.pos >= len(d.raw) {
		return errf("invalid JSON: unexpected end of input")
	}
	return errf("invalid JSON at offset %d: %s", d.pos, what)
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
	if len(d.raw)-d.pos < len(word) || d.raw[d.pos:d.pos+len(word)] != word {
		return d.synErr("invalid literal")
	}
	d.pos += len(word)
	return nil
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
			d.pos = i
			return "", d.synErr("control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.raw[i:])
			if r == utf8.RuneError && size == 1 {
				return "", errf("string is not valid UTF-8")
			}
			i += size
		}
	}
	d.pos = len(d.raw)
	return "", d.synErr("unterminated string")
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
				d.pos = len(d.raw)
				return "", d.synErr("unterminated string")
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
					d.pos = i - 2
					return "", d.synErr("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+6 <= len(d.raw) && d.raw[i] == '\\' && d.raw[i+1] == 'u' {
						r2, ok = hex4(d.raw, i+2)
					}
					r = utf16.DecodeRune(r, r2)
					if !ok || r == utf8.RuneError {
						d.pos = i - 6
						return "", d.synErr("invalid \\u escape: unpaired surrogate")
					}
					i += 6
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.pos = i - 2
				return "", d.synErr("invalid escape")
			}
		case c < 0x20:
			d.pos = i
			return "", d.synErr("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.raw[i:])
			if r == utf8.RuneError && size == 1 {
				return "", errf("string is not valid UTF-8")
			}
			buf = append(buf, d.raw[i:i+size]...)
			i += size
		}
	}
	d.pos = len(d.raw)
	return "", d.synErr("unterminated string")
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
		d.pos = i
		return "", false, d.synErr("invalid number")
	}
	isInt = true
	if i < len(s) && s[i] == '.' {
		i++
		isInt = false
		if !digits() {
			d.pos = i
			return "", false, d.synErr("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		isInt = false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			d.pos = i
			return "", false, d.synErr("invalid number")
		}
	}
	lit = s[d.pos:i]
	d.pos = i
	return lit, isInt, nil
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

// end refuses anything but whitespace after the event.
func (d *decoder) end() error {
	if d.peek() != 0 {
		return errf("invalid JSON at offset %d: unexpected data after the event", d.pos)
	}
	return nil
}
