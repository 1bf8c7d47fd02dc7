package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestReadEventLines(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string // "line: body"
		err      string
	}{
		{"json lines", "{\"a\":1}\n\n  {\"b\":2}  \nnot json\n", []string{`1: {"a":1}`, `3: {"b":2}`, `4: not json`}, ""},
		{"pretty", "{\n  \"a\": {\n    \"b\": \"}{\"\n  }\n}\n{\"c\":3}\n{\n  \"d\": [1, 2]\n}\n", []string{"1: {\n\"a\": {\n\"b\": \"}{\"\n}\n}", `6: {"c":3}`, "7: {\n\"d\": [1, 2]\n}"}, ""},
		{"pretty, unclosed", "{\n  \"a\": 1\n", []string{"1: {\n\"a\": 1"}, ""},
		{"array", "  [\n  {\"a\":1},\n  {\"b\":\n   2}\n]\n", []string{`2: {"a":1}`, "3: {\"b\":\n   2}"}, ""},
		{"array, empty", "[]", nil, ""},
		{"array, broken", "[{\"a\":1},\n{\"b\":]", []string{`1: {"a":1}`}, "invalid JSON array of events at line 2 (byte 15): invalid character ']' looking for beginning of value; nothing after it was sent"},
		{"array, then more", "[{\"a\":1}]\n{\"b\":2}", []string{`1: {"a":1}`}, "invalid JSON array of events at line 2: something follows its closing ']'"},
		{"empty", "  \n\n", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			err := readEventLines(strings.NewReader(c.in), 2, func(batch []eventLine) error {
				if len(batch) > 2 {
					t.Errorf("batch of %d", len(batch))
				}
				for _, l := range batch {
					got = append(got, fmt.Sprintf("%d: %s", l.n, l.body))
				}
				return nil
			})
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("events\n%q\nwant\n%q", got, c.want)
			}
			if (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}
