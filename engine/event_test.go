package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

func TestEventStrmMetaAvro(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/demo/1.0.2")
	in := demoEvent{
		StrmMeta:         strmMeta{EventContractRef: "streammachine/example/1.3.0", ConsentLevels: []int32{0, 1, 2}},
		UniqueIdentifier: ptr("unique-5"),
		ConsistentValue:  "session-7",
	}
	ev, err := s.Decode(engine.AvroBinary, marshal(t, s, in))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Schema() != s || ev.ContractRef() != "streammachine/example/1.3.0" || !slices.Equal(ev.ConsentLevels(), []int32{0, 1, 2}) {
		t.Errorf("ContractRef, ConsentLevels = %q, %v", ev.ContractRef(), ev.ConsentLevels())
	}
	if _, ok := ev.Nonce(); ok {
		t.Error("Nonce present")
	}
	if _, ok := ev.Timestamp(); ok {
		t.Error("Timestamp present")
	}
	if _, ok := ev.KeyLink(); ok {
		t.Error("KeyLink present")
	}
	ev.SetNonce(math.MinInt32)
	ev.SetTimestamp(1767225600123)
	if err := ev.SetKeyLink("6f1c2a8e-0000-4000-8000-000000000001"); err != nil {
		t.Fatal(err)
	}
	if n, ok := ev.Nonce(); n != math.MinInt32 || !ok {
		t.Errorf("Nonce = %d, %v", n, ok)
	}
	if ts, ok := ev.Timestamp(); ts != 1767225600123 || !ok {
		t.Errorf("Timestamp = %d, %v", ts, ok)
	}
	if kl, ok := ev.KeyLink(); kl != "6f1c2a8e-0000-4000-8000-000000000001" || !ok {
		t.Errorf("KeyLink = %q, %v", kl, ok)
	}
	var back demoEvent
	unmarshal(t, s, ev.Encode(nil), &back)
	want := in
	want.StrmMeta.Nonce = ptr(int32(math.MinInt32))
	want.StrmMeta.Timestamp = ptr(int64(1767225600123))
	want.StrmMeta.KeyLink = ptr("6f1c2a8e-0000-4000-8000-000000000001")
	if !reflect.DeepEqual(back, want) {
		t.Errorf("hamba reads back %+v", back)
	}
	if err := ev.SetKeyLink("\xff"); !errors.Is(err, engine.ErrField) {
		t.Errorf("SetKeyLink(invalid UTF-8) = %v", err)
	}
}

// TestEventSetPII is the encryption package's use: replace each non-null PII
// value, re-encode, and read the new values back (here with hamba, so the
// check does not depend on the engine's decoder).
func TestEventSetPII(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/demo/1.0.2")
	cc := cat.contract(t, "streammachine/example/1.3.0")
	in := demoEvent{
		StrmMeta:          strmMeta{EventContractRef: "streammachine/example/1.3.0", ConsentLevels: []int32{2}},
		UniqueIdentifier:  ptr("unique-5"),
		ConsistentValue:   "session-7",
		NotSensitiveValue: ptr("not-sensitive-1"),
	}
	ev, err := s.Decode(engine.AvroBinary, marshal(t, s, in))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range cc.PIIFields() {
		paths = append(paths, p.Field.Path)
		v, ok := ev.GetString(p.Field)
		if !ok {
			continue // someSensitiveValue is null
		}
		if err := ev.SetString(p.Field, "enc("+v+")"); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(paths, []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}) {
		t.Errorf("PII paths %v", paths)
	}
	var back demoEvent
	unmarshal(t, s, ev.Encode(nil), &back)
	want := in
	want.UniqueIdentifier = ptr("enc(unique-5)")
	want.ConsistentValue = "enc(session-7)"
	if !reflect.DeepEqual(back, want) {
		t.Errorf("hamba reads back %+v\nwant %+v", back, want)
	}
	ev2, err := s.Decode(engine.AvroBinary, ev.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := ev2.GetStringPath("consistentValue"); v != "enc(session-7)" || !ok {
		t.Errorf("consistentValue = %q, %v", v, ok)
	}
	if _, ok, _ := ev2.GetStringPath("someSensitiveValue"); ok {
		t.Error("someSensitiveValue became non-null")
	}

	// A null nullable string can be set, and becomes the string branch.
	if err := ev2.SetStringPath("someSensitiveValue", "now set"); err != nil {
		t.Fatal(err)
	}
	unmarshal(t, s, ev2.Encode(nil), &back)
	if back.SomeSensitiveValue == nil || *back.SomeSensitiveValue != "now set" {
		t.Errorf("someSensitiveValue = %v", back.SomeSensitiveValue)
	}
}

func TestEventNestedAndNullRecord(t *testing.T) {
	s := compileAvro(t, avroRecord(avroMeta(nil),
		`{"name":"customer","type":["null",{"type":"record","name":"Customer","fields":[{"name":"id","type":"string"},{"name":"email","type":["null","string"]}]}]}`))
	id, _ := s.Field("customer/id")
	ev, err := s.Decode(engine.JSON, []byte(`{`+metaJSON+`,"customer":{"id":"c-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.GetString(id); v != "c-1" || !ok {
		t.Errorf("customer/id = %q, %v", v, ok)
	}
	if err := ev.SetString(id, "c-2"); err != nil {
		t.Fatal(err)
	}
	if got := string(ev.AppendJSON(nil)); got != `{`+metaRendered+`,"customer":{"id":"c-2","email":null}}` {
		t.Errorf("AppendJSON %s", got)
	}

	null, err := s.Decode(engine.JSON, []byte(`{`+metaJSON+`}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := null.GetString(id); ok {
		t.Error("customer/id present in a null customer")
	}
	err = null.SetString(id, "x")
	if !errors.Is(err, engine.ErrField) || err.Error() != "engine: bad field access: field 'customer/id' is absent because a parent record is null" {
		t.Errorf("SetString under null record: %v", err)
	}
}

func TestEventFieldErrors(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	ev, err := click.Decode(engine.JSON, []byte(clickstreamJSON))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := demo.Field("consistentValue")
	conv, _ := click.Field("conversion")
	url, _ := click.Field("url")
	if _, ok := ev.GetString(other); ok {
		t.Error("GetString with another schema's field succeeded")
	}
	if _, ok := ev.GetString(conv); ok {
		t.Error("GetString of an int field succeeded")
	}
	cases := []struct {
		err error
		msg string
	}{
		{ev.SetString(other, "x"), "engine: bad field access: field 'consistentValue' belongs to schema 'streammachine/demo/1.0.2', not 'streammachine/clickstream/1.0.0'"},
		{ev.SetString(conv, "x"), "engine: bad field access: field 'conversion' is int, not a string"},
		{ev.SetString(url, "\xff"), "engine: bad field access: value for field 'url' is not valid UTF-8"},
		{ev.SetString(engine.Field{}, "x"), "engine: bad field access: field '' belongs to schema '<none>', not 'streammachine/clickstream/1.0.0'"},
		{ev.SetStringPath("nope", "x"), "engine: bad field access: field 'nope' does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{ev.SetStringPath("abTests", "x"), "engine: bad field access: field 'abTests' is array, not a string"},
	}
	for _, tc := range cases {
		if tc.err == nil || tc.err.Error() != tc.msg || !errors.Is(tc.err, engine.ErrField) {
			t.Errorf("got %v, want %q", tc.err, tc.msg)
		}
	}
	if _, _, err := ev.GetStringPath("customer"); err == nil || err.Error() != "engine: bad field access: field 'customer' is record, not a string" {
		t.Errorf("GetStringPath(customer): %v", err)
	}
}

func TestEventRoundTrip(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	sensor := cat.schema(t, "strmlocal/sensor/1.0.0")
	sensorJ := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	bodies := []struct {
		s    *engine.Schema
		ser  engine.Serialization
		body []byte
	}{
		{click, engine.AvroBinary, marshal(t, click, sampleClickstream())},
		{click, engine.JSON, []byte(clickstreamJSON)},
		{sensor, engine.AvroBinary, marshal(t, sensor, sensorEvent{
			StrmMeta:  strmMeta{EventContractRef: "strmlocal/sensor/1.0.0", ConsentLevels: []int32{1}, Nonce: ptr(int32(7)), Timestamp: ptr(int64(1)), KeyLink: ptr("k")},
			MachineID: "MCH-00042", SiteID: "AMS-01", MeasuredAt: 1767225600000,
			TemperatureCelsius: math.Inf(1), VibrationMmPerS: math.NaN(), RPM: -1, PowerState: "FAULT", ReadingStatus: "SENSOR_FAULT",
		})},
		{sensorJ, engine.JSON, []byte(sensorJSON)},
	}
	for _, b := range bodies {
		ev, err := b.s.Decode(b.ser, b.body)
		if err != nil {
			t.Fatal(err)
		}
		enc1 := ev.Encode(nil)
		ev2, err := b.s.Decode(b.s.DefaultSerialization(), enc1)
		if err != nil {
			t.Fatalf("%s: decoding the re-encoded event: %v", b.s.Ref(), err)
		}
		if enc2 := ev2.Encode(nil); !bytes.Equal(enc1, enc2) {
			t.Errorf("%s: encode → decode → encode changed the bytes", b.s.Ref())
		}
		if j1, j2 := ev.AppendJSON(nil), ev2.AppendJSON(nil); !bytes.Equal(j1, j2) {
			t.Errorf("%s: JSON differs after a round trip:\n%s\n%s", b.s.Ref(), j1, j2)
		}
		// The plain JSON rendering is itself valid JSON and decodes again.
		j := ev.AppendJSON(nil)
		if !json.Valid(j) {
			t.Errorf("%s: AppendJSON is not valid JSON: %s", b.s.Ref(), j)
		}
		ev3, err := b.s.Decode(engine.JSON, j)
		if err != nil {
			t.Fatalf("%s: decoding the rendered JSON: %v", b.s.Ref(), err)
		}
		if !bytes.Equal(ev3.Encode(nil), enc1) {
			t.Errorf("%s: JSON rendering does not round-trip", b.s.Ref())
		}
		// Clone is independent of the original.
		c := ev.Clone()
		f := b.s.Fields()[len(b.s.Fields())-1]
		for _, ff := range b.s.Fields() {
			if ff.IsString() && ff.Path != "strmMeta/eventContractRef" {
				f = ff
			}
		}
		if err := c.SetString(f, "changed"); err != nil {
			t.Fatal(err)
		}
		if v, _ := ev.GetString(f); v == "changed" {
			t.Errorf("%s: Clone shares values with the original", b.s.Ref())
		}
		m, err := ev.MarshalJSON()
		if err != nil || !bytes.Equal(m, j) {
			t.Errorf("%s: MarshalJSON = %s, %v", b.s.Ref(), m, err)
		}
	}
}

func TestAppendJSONSpecialValues(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "strmlocal/sensor/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(t, s, sensorEvent{
		StrmMeta:  strmMeta{EventContractRef: "strmlocal/sensor/1.0.0", ConsentLevels: []int32{}},
		MachineID: "MCH-\u0001\u2029\t<&>", SiteID: "AMS-01", MeasuredAt: -1,
		TemperatureCelsius: math.Inf(-1), VibrationMmPerS: 1e21, RPM: 0, PowerState: "OFF", ReadingStatus: "OK",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"strmMeta":{"eventContractRef":"strmlocal/sensor/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[]},` +
		`"machineId":"MCH-\u0001\u2029\t<&>","siteId":"AMS-01","operatorBadge":null,"measuredAt":-1,` +
		`"temperatureCelsius":"-Infinity","vibrationMmPerS":1e+21,"rpm":0,"powerState":"OFF","readingStatus":"OK"}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}
