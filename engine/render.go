package engine

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Encode appends the event in its schema's own serialization: Avro binary for
// Avro schemas, JSON for JSON Schema. Events only change through the typed
// setters, so the result always decodes again with the same schema.
func (e *Event) Encode(dst []byte) []byte { return e.schema.codec.encode(dst, e) }

// AppendJSON appends the event as plain JSON, the egress shape: for Avro,
// fields in schema order (strmMeta first when the schema puts it first), union
// values unwrapped, null fields as null, bytes and fixed as strings of code
// points 0-255, NaN and infinities as the strings "NaN", "Infinity",
// "-Infinity"; for JSON Schema, the document in the producer's key order.
// The output decodes again as lenient JSON with the same schema.
func (e *Event) AppendJSON(dst []byte) []byte { return e.schema.codec.appendJSON(dst, e) }

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// needsEscape marks the ASCII bytes a JSON string must escape.
var needsEscape = func() (t [utf8.RuneSelf]bool) {
	for i := range 0x20 {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, valid UTF-8, as a JSON string. U+2028 and U+2029
// are escaped too, so the output is safe to embed in JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !needsEscape[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONLatin1 appends raw bytes as a JSON string of code points 0-255.
func appendJSONLatin1(dst []byte, b string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= utf8.RuneSelf:
			dst = utf8.AppendRune(dst, rune(c))
		case needsEscape[c]:
			dst = appendEscape(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// appendEscape appends the JSON escape of an ASCII byte marked in needsEscape.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
