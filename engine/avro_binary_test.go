package engine_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/strmlocal/strmlocal/engine"
)

// enc hand-builds Avro binary, independently of the engine's encoder.
type enc []byte

func (e enc) long(x int64) enc {
	return binary.AppendUvarint(e, uint64(x<<1)^uint64(x>>63))
}

func (e enc) str(s string) enc { return append(e.long(int64(len(s))), s...) }

func (e enc) raw(b ...byte) enc { return append(e, b...) }

// meta encodes a strmMeta record: ref, null nonce, timestamp, keyLink,
// billingId, and the consent levels as one block.
func (e enc) meta(ref string, levels ...int64) enc {
	e = e.str(ref).long(0).long(0).long(0).long(0)
	if len(levels) > 0 {
		e = e.long(int64(len(levels)))
		for _, l := range levels {
			e = e.long(l)
		}
	}
	return e.long(0)
}

const clickstreamRendered = `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[0,1]},` +
	`"producerSessionId":"session-4711",` +
	`"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown",` +
	`"eventType":"product_view","referrer":"https://www.example.org/search?q=hiking+boots",` +
	`"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",` +
	`"conversion":0,"abTests":["checkout-v2","banner-b"],"customer":{"id":"customer-0042"}}`

func TestDecodeAvroClickstream(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/clickstream/1.0.0")
	body := marshal(t, s, sampleClickstream())
	ev, err := s.Decode(engine.AvroBinary, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ev.AppendJSON(nil)); got != clickstreamRendered {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, clickstreamRendered)
	}
	// hamba writes arrays as sized blocks, the engine as plain counts, so
	// compare by reading the re-encoded event back with hamba.
	var back clickstreamEvent
	unmarshal(t, s, ev.Encode(nil), &back)
	if !reflect.DeepEqual(back, sampleClickstream()) {
		t.Errorf("hamba reads back %+v", back)
	}
	if id, ok, err := ev.GetStringPath("customer/id"); id != "customer-0042" || !ok || err != nil {
		t.Errorf("customer/id = %q, %v, %v", id, ok, err)
	}
}

// everyTypeParts encodes one event of avroRecord(avroMeta(nil),
// everyTypeFields), field by field.
func everyTypeParts() [][]byte {
	return [][]byte{
		enc{}.meta("test/contract/1.0.0", 0, 3),
		{1},                       // b true
		enc{}.long(-2147483648),   // i
		enc{}.long(math.MaxInt64), // l
		binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.5)),
		binary.LittleEndian.AppendUint64(nil, math.Float64bits(-0.25)),
		enc{}.str("\x00\x01\xfe\""),                     // by
		enc{}.str("h\u00e9llo \"q\"\n\u2028"),           // s
		{'a', 'b', 'c', 0xff},                           // fx
		enc{}.long(1),                                   // e GREEN
		enc{}.long(-2).long(4).long(7).long(-8).long(0), // a: one block of 2 with its byte size
		enc{}.long(1).str("k").str("v").long(0),         // m
		enc{}.long(2).long(0),                           // u: branch 2, Colour RED
		nil,                                             // n: null takes no bytes
		enc{}.long(1).long(1).str("x").str("y"),         // r: Inner{x: "x", deep: {y: "y"}}
		enc{}.long(1).str("k1").long(1).str("t").long(0).long(1).str("k2").long(0).long(0), // ar: two blocks of one Item
		enc{}.long(1).str("key").str("k3").long(0).long(0),                                 // mr
	}
}

// everyTypeUpTo returns the encoding of the first n parts followed by tail.
func everyTypeUpTo(n int, tail ...byte) []byte {
	var b []byte
	for _, p := range everyTypeParts()[:n] {
		b = append(b, p...)
	}
	return append(b, tail...)
}

func everyTypeBody() []byte { return everyTypeUpTo(len(everyTypeParts())) }

const everyTypeRendered = `{"strmMeta":{"eventContractRef":"test/contract/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[0,3]},` +
	`"b":true,"i":-2147483648,"l":9223372036854775807,"f":1.5,"d":-0.25,"by":"\u0000\u0001þ\"","s":"h\u00e9llo \"q\"\n\u2028",` +
	`"fx":"abcÿ","e":"GREEN","a":[7,-8],"m":{"k":"v"},"u":"RED","n":null,"r":{"x":"x","deep":{"y":"y"}},` +
	`"ar":[{"k":"k1","tags":["t"]},{"k":"k2","tags":[]}],"mr":{"key":{"k":"k3","tags":[]}}}`

func TestDecodeAvroEveryType(t *testing.T) {
	s := compileAvro(t, avroRecord(avroMeta(nil), everyTypeFields))
	body := everyTypeBody()
	ev, err := s.Decode(engine.AvroBinary, body)
	if err != nil {
		t.Fatal(err)
	}
	got := string(ev.AppendJSON(nil))
	want := strings.Replace(everyTypeRendered, `\u00e9`, "é", 1)
	want = strings.Replace(want, `\u2028`, `\u2028`, 1)
	if got != want {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
	// Re-encoding normalises the blocked arrays to one block each; hamba must
	// read it back.
	out := ev.Encode(nil)
	sch := avro.MustParse(s.Definition())
	var generic map[string]any
	if err := avro.Unmarshal(sch, out, &generic); err != nil {
		t.Fatalf("hamba cannot read the re-encoded event: %v", err)
	}
	if generic["s"] != "h\u00e9llo \"q\"\n\u2028" || generic["l"] != int64(math.MaxInt64) {
		t.Errorf("hamba read %v", generic)
	}
	ev2, err := s.Decode(engine.AvroBinary, out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev2.Encode(nil), out) || string(ev2.AppendJSON(nil)) != got {
		t.Error("decode → encode → decode changed the event")
	}
	// The rendered JSON decodes as lenient JSON to the same event.
	ev3, err := s.Decode(engine.JSON, []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev3.Encode(nil), out) {
		t.Errorf("JSON round trip:\n got %x\nwant %x", ev3.Encode(nil), out)
	}
}

func TestDecodeAvroRejects(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	every := compileAvro(t, avroRecord(avroMeta(nil), everyTypeFields))
	recursive := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"node","type":{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}}`))

	good := marshal(t, click, sampleClickstream())
	clickOf := func(mutate func(*clickstreamEvent)) []byte {
		ev := sampleClickstream()
		mutate(&ev)
		return marshal(t, click, ev)
	}
	meta := enc{}.meta("streammachine/example/1.3.0", 1)
	// demoBody builds a demo event after strmMeta.
	demoBody := func(rest ...byte) []byte { return append(append([]byte{}, meta...), rest...) }
	// clickUpTo encodes a clickstream event up to conversion, then tail.
	clickUpTo := func(tail ...byte) []byte {
		e := enc{}.meta("streammachine/clickstream/1.0.0", 0).str("s").str("https://x").str("t").str("r").str("ua")
		return append(e, tail...)
	}
	// metaUpToLevels encodes strmMeta up to consentLevels, then tail.
	metaUpToLevels := func(tail ...byte) []byte {
		return append(enc{}.str("streammachine/clickstream/1.0.0").long(0).long(0).long(0).long(0), tail...)
	}

	deep := enc{}.meta("r/e/1.0.0")
	for range 70 {
		deep = deep.long(0).long(1)
	}
	deep = deep.long(0).long(0)

	cases := []struct {
		name  string
		s     *engine.Schema
		body  []byte
		field string
		msg   string
	}{
		{"empty", click, nil, "strmMeta/eventContractRef", "field 'strmMeta/eventContractRef': unexpected end of data"},
		{"truncated in url", click, good[:60], "url", "field 'url': unexpected end of data"},
		{"truncated in array", click, good[:len(good)-18], "abTests[1]", "field 'abTests[1]': unexpected end of data"},
		{"truncated last byte", click, good[:len(good)-1], "customer/id", "field 'customer/id': unexpected end of data"},
		{"trailing bytes", click, append(append([]byte{}, good...), 0, 0), "", "2 unexpected bytes after the event"},
		{"invalid UTF-8", click, clickOf(func(e *clickstreamEvent) { e.URL = "https://x/\xff" }), "url", "field 'url': string is not valid UTF-8"},
		{"invalid UTF-8 in array", click, clickOf(func(e *clickstreamEvent) { e.ABTests[1] = "\xc3" }), "abTests[1]", "field 'abTests[1]': string is not valid UTF-8"},
		{"negative length", demo, demoBody(enc{}.long(0).long(-3)...), "consistentValue", "field 'consistentValue': negative length -3"},
		{"length beyond data", demo, demoBody(enc{}.long(0).long(1000).raw('a')...), "consistentValue", "field 'consistentValue': unexpected end of data"},
		{"union branch out of range", demo, demoBody(enc{}.long(2)...), "uniqueIdentifier", "field 'uniqueIdentifier': union branch 2 out of range for nullable string"},
		{"negative union branch", demo, demoBody(enc{}.long(-1)...), "uniqueIdentifier", "field 'uniqueIdentifier': union branch -1 out of range for nullable string"},
		{"long varint too long", demo, demoBody(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), "uniqueIdentifier", "field 'uniqueIdentifier': malformed long: more than 64 bits"},
		{"long 10th byte too big", demo, demoBody(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02), "uniqueIdentifier", "field 'uniqueIdentifier': malformed long: more than 64 bits"},
		{"int overflow", click, clickUpTo(0x80, 0x80, 0x80, 0x80, 0x10), "conversion", "field 'conversion': malformed int: more than 32 bits"},
		{"int truncated", click, clickUpTo(0x80, 0x80), "conversion", "field 'conversion': unexpected end of data"},
		{"invalid boolean", every, everyTypeUpTo(1, 2), "b", "field 'b': invalid boolean byte 2"},
		{"float truncated", every, everyTypeUpTo(4, 0, 0), "f", "field 'f': unexpected end of data"},
		{"double truncated", every, everyTypeUpTo(5, 0, 0, 0, 0), "d", "field 'd': unexpected end of data"},
		{"fixed truncated", every, everyTypeUpTo(8, 'a'), "fx", "field 'fx': unexpected end of data"},
		{"enum out of range", every, everyTypeUpTo(9, enc{}.long(2)...), "e", "field 'e': enum index 2 out of range for enum Colour"},
		{"enum in union out of range", every, everyTypeUpTo(12, enc{}.long(2).long(7)...), "u", "field 'u': enum index 7 out of range for enum Colour"},
		{"map key invalid UTF-8", every, everyTypeUpTo(11, enc{}.long(1).str("\xff").str("v").long(0)...), "m", "field 'm': map key is not valid UTF-8"},
		{"nested record truncated", every, everyTypeUpTo(14, enc{}.long(1).long(1).str("x")...), "r/deep/y", "field 'r/deep/y': unexpected end of data"},
		{"array item record truncated", every, everyTypeUpTo(15, enc{}.long(1).str("k1").long(1)...), "ar[0]/tags", "field 'ar[0]/tags': unexpected end of data"},
		{"array count beyond data", click, metaUpToLevels(enc{}.long(1 << 40)...), "strmMeta/consentLevels", "field 'strmMeta/consentLevels': unexpected end of data"},
		{"minimum block count", click, metaUpToLevels(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "strmMeta/consentLevels", "field 'strmMeta/consentLevels': malformed block count"},
		{"block size truncated", click, metaUpToLevels(enc{}.long(-1)...), "strmMeta/consentLevels", "field 'strmMeta/consentLevels': unexpected end of data"},
		{"too deep", recursive, deep, strings.TrimSuffix("node/"+strings.Repeat("next/", 63), "/"), "field '" + strings.TrimSuffix("node/"+strings.Repeat("next/", 63), "/") + "': nesting exceeds 64 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Decode(engine.AvroBinary, tc.body)
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			want := "event does not match schema '" + tc.s.Ref().String() + "': " + tc.msg
			if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != want {
				t.Errorf("error:\n got %q\nwant %q", msg, want)
			}
			var re *engine.RejectError
			if errors.As(err, &re); re.Field != tc.field || re.Rule != engine.RuleDecode {
				t.Errorf("Field, Rule = %q, %q; want %q", re.Field, re.Rule, tc.field)
			}
		})
	}

	// Every proper prefix of a valid body is refused.
	for i := range good {
		if _, err := click.Decode(engine.AvroBinary, good[:i]); err == nil {
			t.Errorf("prefix of %d bytes decoded", i)
		}
	}
}

func TestDecodeAvroBlocks(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/demo/1.0.2")
	// consentLevels as a negative-count block with its byte size, then a
	// second block.
	body := enc{}.str("streammachine/example/1.3.0").long(0).long(0).long(0).long(0).
		long(-2).long(2).long(0).long(1).long(1).long(2).long(0).
		long(0).str("session-1").long(0).long(0)
	ev, err := s.Decode(engine.AvroBinary, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.ConsentLevels(); len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Errorf("ConsentLevels = %v", got)
	}
	want := enc{}.str("streammachine/example/1.3.0").long(0).long(0).long(0).long(0).
		long(3).long(0).long(1).long(2).long(0).
		long(0).str("session-1").long(0).long(0)
	if got := ev.Encode(nil); !bytes.Equal(got, want) {
		t.Errorf("Encode:\n got %x\nwant %x", got, want)
	}
}

func TestDecodeAvroMapDuplicateKey(t *testing.T) {
	s := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"m","type":{"type":"map","values":"int"}}`))
	for _, n := range []int{2, 20} {
		e := enc{}.meta("r/e/1.0.0").long(int64(n))
		for i := range n - 1 {
			e = e.str(strings.Repeat("k", i+1)).long(int64(i))
		}
		e = e.str("k").long(9).long(0)
		_, err := s.Decode(engine.AvroBinary, e)
		if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != "event does not match schema 'test/schema/1.0.0': field 'm/k' appears more than once" {
			t.Errorf("%d keys: %q", n, msg)
		}
	}
}

func TestDecodeAvroTooManyValues(t *testing.T) {
	// Arrays of nulls or empty records take no bytes per item, so only the
	// value limit (proportional to the body size) stops a small body from
	// claiming millions of them.
	for _, items := range []string{`{"type":"record","name":"Empty","fields":[]}`, `"null"`} {
		s := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"a","type":{"type":"array","items":`+items+`}}`))
		body := enc{}.meta("r/e/1.0.0").long(1 << 21).long(0)
		_, err := s.Decode(engine.AvroBinary, body)
		want := fmt.Sprintf("event does not match schema 'test/schema/1.0.0': field 'a': event holds more than %d values", 1024+64*len(body))
		if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != want {
			t.Errorf("%s: %q", items, msg)
		}
		// Many small blocks are counted together.
		body = enc{}.meta("r/e/1.0.0")
		for range 10 {
			body = body.long(1000)
		}
		body = body.long(0)
		_, err = s.Decode(engine.AvroBinary, body)
		if msg := rejectMsg(t, err, engine.ErrInvalidEvent); !strings.HasSuffix(msg, fmt.Sprintf("event holds more than %d values", 1024+64*len(body))) {
			t.Errorf("%s in blocks: %q", items, msg)
		}
		// Within the limit it decodes.
		if _, err := s.Decode(engine.AvroBinary, enc{}.meta("r/e/1.0.0").long(1000).long(0)); err != nil {
			t.Errorf("%s: 1000 items: %v", items, err)
		}
	}
}
