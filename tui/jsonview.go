package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// fieldKind is how a field's value reads in the stream that shows it.
type fieldKind int

const (
	plainField     fieldKind = iota
	cipherField              // a PII value as ciphertext
	decryptedField           // a PII value the derived stream decrypted
	maskedField              // a PII value the derived stream replaced by its hash
)

// annot is what the UI knows about one field: its PII level (from the
// event contract) and how its value reads.
type annot struct {
	pii   bool
	level int32
	kind  fieldKind
}

// marker is the 4-column gutter of a JSON line: the PII level and a sign
// for the kind of value, so that ciphertext and plaintext differ without
// colour too: "L1* " ciphertext, "L2+ " decrypted, "L3# " masked.
func (a annot) marker() string {
	if !a.pii {
		return "    "
	}
	sign := " "
	switch a.kind {
	case cipherField:
		sign = "*"
	case decryptedField:
		sign = "+"
	case maskedField:
		sign = "#"
	}
	l := fmt.Sprintf("L%d", a.level)
	if len(l) > 2 {
		l = "L+"
	}
	return l + sign + " "
}

// legend explains the markers.
const legend = "L<n> PII level   * ciphertext   + decrypted   # masked"

// annotator answers annot for a field path of one record.
type annotator struct {
	levels    map[string]int32 // nil: contract not known (yet)
	decrypted map[string]bool
	masked    map[string]bool
	encrypted map[string]bool
}

func newAnnotator(rec *v1.Record, contract *v1.EventContract) annotator {
	var a annotator
	if contract != nil {
		a.levels = contract.PiiFields
	}
	set := func(paths []string) map[string]bool {
		if len(paths) == 0 {
			return nil
		}
		m := make(map[string]bool, len(paths))
		for _, p := range paths {
			m[p] = true
		}
		return m
	}
	a.decrypted, a.masked, a.encrypted = set(rec.Decrypted), set(rec.Masked), set(rec.Encrypted)
	return a
}

// of returns the annotation of path whose value is a string (or not).
func (a annotator) of(path string, isString bool) annot {
	level, pii := a.levels[path]
	out := annot{pii: pii, level: level}
	switch {
	case a.decrypted[path]:
		out.kind = decryptedField
	case a.masked[path]:
		out.kind = maskedField
	case a.encrypted[path]:
		out.kind = cipherField
	case pii && isString:
		// A source stream stores every non-null PII value encrypted; a
		// derived record lists what it decrypted and masked, and leaves
		// the rest as stored.
		out.kind = cipherField
	}
	if out.kind != plainField && !pii {
		// The record says so even if the contract is not known yet.
		out.pii, out.level = true, -1
	}
	return out
}

// jline is one line of pretty JSON.
type jline struct {
	indent int
	key    string // `"name": ` or ""
	value  string // a scalar, or an opening or closing bracket
	comma  bool
	path   string // the field path of a scalar or collapsed value
	leaf   bool   // value is a scalar (or collapsed) field value
	str    bool   // value is a JSON string
}

// prettyJSON lays out a JSON document one value per line, keeping the key
// order of the document (the schema's), with paths for annotation. Arrays
// of scalars stay on one line; objects at a path in collapse are shown as
// `{…}`.
func prettyJSON(doc string, collapse map[string]bool) ([]jline, error) {
	p := &jprinter{collapse: collapse}
	if err := p.value(json.RawMessage(doc), "", "", 0); err != nil {
		return nil, err
	}
	return p.lines, nil
}

type jprinter struct {
	collapse map[string]bool
	lines    []jline
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}

func (p *jprinter) value(raw json.RawMessage, path, key string, indent int) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return io.ErrUnexpectedEOF
	}
	switch raw[0] {
	case '{':
		if path != "" && p.collapse[path] {
			p.lines = append(p.lines, jline{indent: indent, key: key, value: "{…}", path: path, leaf: true})
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return err
		}
		p.lines = append(p.lines, jline{indent: indent, key: key, value: "{"})
		open := len(p.lines)
		for dec.More() {
			nt, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := nt.(string)
			var child json.RawMessage
			if err := dec.Decode(&child); err != nil {
				return err
			}
			if err := p.value(child, join(path, name), quote(name)+": ", indent+1); err != nil {
				return err
			}
			if dec.More() {
				p.lines[len(p.lines)-1].comma = true
			}
		}
		if len(p.lines) == open {
			p.lines[open-1].value = "{}"
			return nil
		}
		p.lines = append(p.lines, jline{indent: indent, value: "}"})
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		scalars := true
		for _, e := range elems {
			if e = bytes.TrimSpace(e); len(e) > 0 && (e[0] == '{' || e[0] == '[') {
				scalars = false
			}
		}
		if scalars {
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return err
			}
			p.lines = append(p.lines, jline{indent: indent, key: key, value: b.String(), path: path, leaf: true})
			return nil
		}
		p.lines = append(p.lines, jline{indent: indent, key: key, value: "["})
		for i, e := range elems {
			if err := p.value(e, path, "", indent+1); err != nil {
				return err
			}
			p.lines[len(p.lines)-1].comma = i < len(elems)-1
		}
		p.lines = append(p.lines, jline{indent: indent, value: "]"})
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		p.lines = append(p.lines, jline{indent: indent, key: key, value: quote(s), path: path, leaf: true, str: true})
	default: // a number, true, false or null, as written
		p.lines = append(p.lines, jline{indent: indent, key: key, value: string(raw), path: path, leaf: true})
	}
	return nil
}

// quote is a JSON string literal without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// cell is one field of an event as the tail table shows it.
type cell struct {
	path  string
	value string // as text: strings unquoted, null as "null"
	str   bool
}

// eventFields returns the fields of an event document outside strmMeta,
// nested records flattened to paths ("customer/id"), in document order.
// Arrays are shown as compact JSON.
func eventFields(doc string) []cell {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []cell
	_ = fieldsOf(dec, "", &out)
	return out
}

func fieldsOf(dec *json.Decoder, parent string, out *[]cell) error {
	for dec.More() {
		nt, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := nt.(string)
		path := join(parent, name)
		if path == "strmMeta" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		switch {
		case len(raw) > 0 && raw[0] == '{':
			sub := json.NewDecoder(bytes.NewReader(raw))
			sub.UseNumber()
			if _, err := sub.Token(); err != nil {
				return err
			}
			if err := fieldsOf(sub, path, out); err != nil {
				return err
			}
		case len(raw) > 0 && raw[0] == '"':
			var s string
			_ = json.Unmarshal(raw, &s)
			*out = append(*out, cell{path: path, value: s, str: true})
		default:
			var b bytes.Buffer
			if json.Compact(&b, raw) != nil {
				b.Reset()
				b.Write(raw)
			}
			*out = append(*out, cell{path: path, value: b.String()})
		}
	}
	_, err := dec.Token() // '}'
	if err == io.EOF {
		err = nil
	}
	return err
}

// fieldValue returns the value at path in an event document as the tail
// filter compares it: strings unquoted, other values as compact JSON.
func fieldValue(doc, path string) (string, bool) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return "", false
	}
	var cur any = m
	for _, seg := range strings.Split(path, "/") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = obj[seg]; !ok {
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case nil:
		return "null", true
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b), true
	default:
		return fmt.Sprint(v), true
	}
}

// jsonLines renders a record's JSON with the PII gutter, values styled by
// kind and cut to width w (the detail and the side by side panes).
func (c *common) jsonLines(rec *v1.Record, collapse map[string]bool, w int) []string {
	st := c.styles
	jl, err := prettyJSON(rec.Json, collapse)
	if err != nil {
		return []string{st.errorText.Render("cannot read the event's JSON: " + err.Error())}
	}
	a := newAnnotator(rec, c.contracts[rec.EventContractRef])
	out := make([]string, 0, len(jl))
	for _, l := range jl {
		an := annot{}
		if l.leaf && l.path != "" && !strings.HasPrefix(l.path, "strmMeta") {
			an = a.of(l.path, l.str)
		}
		gutter := an.marker()
		if an.pii {
			gutter = st.level.Render(gutter)
		}
		prefix := strings.Repeat("  ", l.indent) + l.key
		value := l.value
		if l.comma {
			value += ","
		}
		room := w - 4 - len([]rune(prefix))
		if room < 4 {
			room = 4
		}
		value = cutMiddle(value, room)
		out = append(out, gutter+prefix+styleValue(st, an.kind, value))
	}
	return out
}
