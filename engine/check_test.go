package engine_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

func TestCheck(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	sensor := cat.schema(t, "strmlocal/sensor/1.0.0")
	sensorJ := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	clickC := cat.contract(t, "streammachine/clickstream/1.0.0")
	demoC := cat.contract(t, "streammachine/example/1.3.0")
	sensorC := cat.contract(t, "strmlocal/sensor/1.0.0")
	sensorJC := cat.contract(t, "strmlocal/sensor-json/1.0.0")

	clickOf := func(mutate func(*clickstreamEvent)) []byte {
		ev := sampleClickstream()
		mutate(&ev)
		return marshal(t, click, ev)
	}
	demoOf := func(consistent string, levels ...int32) []byte {
		return marshal(t, demo, demoEvent{
			StrmMeta:        strmMeta{EventContractRef: "streammachine/example/1.3.0", ConsentLevels: levels},
			ConsistentValue: consistent,
		})
	}
	sensorOf := func(mutate func(*sensorEvent)) []byte {
		ev := sensorEvent{
			StrmMeta:  strmMeta{EventContractRef: "strmlocal/sensor/1.0.0", ConsentLevels: []int32{1}},
			MachineID: "MCH-00042", SiteID: "AMS-01", OperatorBadge: ptr("B004217"), MeasuredAt: 1767225600000,
			TemperatureCelsius: 61.5, VibrationMmPerS: 2.25, RPM: 1450, PowerState: "RUNNING", ReadingStatus: "OK",
		}
		mutate(&ev)
		return marshal(t, sensor, ev)
	}
	const urlRegex = "^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]"

	cases := []struct {
		name  string
		s     *engine.Schema
		ser   engine.Serialization
		body  []byte
		cc    *engine.CompiledContract
		field string
		rule  string
		msg   string // "" when the event passes
	}{
		{"clickstream valid", click, engine.AvroBinary, clickOf(func(*clickstreamEvent) {}), clickC, "", "", ""},
		{"clickstream bad url (platform wording)", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.URL = "url" }), clickC, "url", "regex",
			"Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'url' doesn't match regex: '" + urlRegex + "'"},
		{"url prefix is enough (pattern has no $)", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.URL = "https://x y z" }), clickC, "", "", ""},
		{"url needs a final URL character", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.URL = "ftp://" }), clickC, "url", "regex",
			"Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'ftp://' doesn't match regex: '" + urlRegex + "'"},
		{"empty customer id", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.Customer.ID = "" }), clickC, "customer/id", "regex",
			"Field: 'customer/id' in event with schema: 'streammachine/clickstream/1.0.0' with value: '' doesn't match regex: '^.+$'"},
		{"validations run in contract order", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.Customer.ID = ""; e.URL = "url" }), clickC, "customer/id", "regex",
			"Field: 'customer/id' in event with schema: 'streammachine/clickstream/1.0.0' with value: '' doesn't match regex: '^.+$'"},
		{"customer id with a newline", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.Customer.ID = "a\nb" }), clickC, "customer/id", "regex",
			"Field: 'customer/id' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'a\nb' doesn't match regex: '^.+$'"},
		{"empty key field", click, engine.AvroBinary, clickOf(func(e *clickstreamEvent) { e.ProducerSessionID = "" }), clickC, "producerSessionId", "keyField",
			"Field: 'producerSessionId' in event with schema: 'streammachine/clickstream/1.0.0' is the key field and must not be empty"},
		{"clickstream JSON bad url", click, engine.JSON, []byte(strings.Replace(clickstreamJSON, `"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown"`, `"url":"url"`, 1)), clickC, "url", "regex",
			"Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'url' doesn't match regex: '" + urlRegex + "'"},
		{"demo valid", demo, engine.AvroBinary, demoOf("session-1", 0, 1), demoC, "", "", ""},
		{"demo empty consistentValue (platform wording)", demo, engine.AvroBinary, demoOf(""), demoC, "consistentValue", "regex",
			"Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"},
		{"negative consent level", demo, engine.AvroBinary, demoOf("session-1", 1, -2), demoC, "strmMeta/consentLevels", "consentLevels",
			"Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' with value: '-2' is not a valid consent level (must be an integer from 0 to 1023)"},
		{"consent level above 1023", demo, engine.AvroBinary, demoOf("session-1", 1023, 1024), demoC, "strmMeta/consentLevels", "consentLevels",
			"Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' with value: '1024' is not a valid consent level (must be an integer from 0 to 1023)"},
		{"empty consent is fine", demo, engine.AvroBinary, demoOf("session-1"), demoC, "", "", ""},
		{"sensor valid", sensor, engine.AvroBinary, sensorOf(func(*sensorEvent) {}), sensorC, "", "", ""},
		{"null nullable field is not validated", sensor, engine.AvroBinary, sensorOf(func(e *sensorEvent) { e.OperatorBadge = nil }), sensorC, "", "", ""},
		{"bad badge", sensor, engine.AvroBinary, sensorOf(func(e *sensorEvent) { e.OperatorBadge = ptr("4217") }), sensorC, "operatorBadge", "regex",
			"Field: 'operatorBadge' in event with schema: 'strmlocal/sensor/1.0.0' with value: '4217' doesn't match regex: '^B[0-9]{6}$'"},
		{"bad machine id", sensor, engine.AvroBinary, sensorOf(func(e *sensorEvent) { e.MachineID = "MCH-42" }), sensorC, "machineId", "regex",
			"Field: 'machineId' in event with schema: 'strmlocal/sensor/1.0.0' with value: 'MCH-42' doesn't match regex: '^MCH-[0-9]{5}$'"},
		{"sensor JSON valid", sensorJ, engine.JSON, []byte(sensorJSON), sensorJC, "", "", ""},
		{"sensor JSON bad site", sensorJ, engine.JSON, []byte(strings.Replace(sensorJSON, `"AMS-01"`, `"ams-01"`, 1)), sensorJC, "siteId", "regex",
			"Field: 'siteId' in event with schema: 'strmlocal/sensor-json/1.0.0' with value: 'ams-01' doesn't match regex: '^[A-Z]{3}-[0-9]{2}$'"},
		{"sensor JSON badge absent", sensorJ, engine.JSON, []byte(strings.Replace(sensorJSON, `"operatorBadge":"B004217",`, ``, 1)), sensorJC, "", "", ""},
		{"contract for another schema", demo, engine.AvroBinary, demoOf("session-1"), clickC, "strmMeta/eventContractRef", "schemaRef",
			"event contract 'streammachine/clickstream/1.0.0' is for schema 'streammachine/clickstream/1.0.0', not for the event's schema 'streammachine/demo/1.0.2'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.s.Decode(tc.ser, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.cc.Check(ev)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if msg := rejectMsg(t, err, engine.ErrRejected); msg != tc.msg {
				t.Errorf("error:\n got %q\nwant %q", msg, tc.msg)
			}
			var re *engine.RejectError
			if errors.As(err, &re); re.Field != tc.field || re.Rule != tc.rule {
				t.Errorf("Field, Rule = %q, %q; want %q, %q", re.Field, re.Rule, tc.field, tc.rule)
			}
		})
	}
}

func TestCheckNullableKeyField(t *testing.T) {
	cat := loadCatalogue(t)
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	cc, err := engine.CompileContract(engine.Contract{
		Ref:       engine.Ref{Handle: "t", Name: "by-unique", Version: "1.0.0"},
		SchemaRef: demo.Ref(),
		KeyField:  "uniqueIdentifier",
	}, demo)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"strmMeta":{"eventContractRef":"t/by-unique/1.0.0","consentLevels":[]},"consistentValue":"s"}`,
		`{"strmMeta":{"eventContractRef":"t/by-unique/1.0.0","consentLevels":[]},"consistentValue":"s","uniqueIdentifier":""}`,
	} {
		ev, err := demo.Decode(engine.JSON, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		want := "Field: 'uniqueIdentifier' in event with schema: 'streammachine/demo/1.0.2' is the key field and must not be empty"
		if msg := rejectMsg(t, cc.Check(ev), engine.ErrRejected); msg != want {
			t.Errorf("%s: %q", body, msg)
		}
	}
}

func TestCheckJSONSchemaConsent(t *testing.T) {
	s, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(nil)))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := engine.CompileContract(engine.Contract{
		Ref: engine.Ref{Handle: "t", Name: "c", Version: "1.0.0"}, SchemaRef: testRef,
		KeyField: "id", PIIFields: map[string]int{"customer/email": 2, "note": 1},
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[2,-1]},"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "Field: 'strmMeta/consentLevels' in event with schema: 'test/schema/1.0.0' with value: '-1' is not a valid consent level (must be an integer from 0 to 1023)"
	if msg := rejectMsg(t, cc.Check(ev), engine.ErrRejected); msg != want {
		t.Errorf("%q", msg)
	}
	// JSON numbers are not bounded by the schema's integer type: a level
	// beyond int32 must not wrap around into a small one.
	for _, level := range []string{"4294967297", "1e300", "2147483648", "1024"} {
		ev, err := s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[0,`+level+`]},"id":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		want := "Field: 'strmMeta/consentLevels' in event with schema: 'test/schema/1.0.0' with value: '" + level + "' is not a valid consent level (must be an integer from 0 to 1023)"
		if msg := rejectMsg(t, cc.Check(ev), engine.ErrRejected); msg != want {
			t.Errorf("%s: %q", level, msg)
		}
	}
	ev, err = s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[1023,1.0,2e0,1]},"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Check(ev); err != nil {
		t.Error(err)
	}
	// Accepted levels are sorted, deduplicated and written as plain integers.
	if got := ev.ConsentLevels(); !slices.Equal(got, []int32{1, 2, 1023}) {
		t.Errorf("ConsentLevels = %v", got)
	}
	if got, want := string(ev.AppendJSON(nil)), `"consentLevels":[1,2,1023]`; !strings.Contains(got, want) {
		t.Errorf("event %s does not hold %s", got, want)
	}
	ev, err = s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[2]},"id":""}`))
	if err != nil {
		t.Fatal(err)
	}
	want = "Field: 'id' in event with schema: 'test/schema/1.0.0' is the key field and must not be empty"
	if msg := rejectMsg(t, cc.Check(ev), engine.ErrRejected); msg != want {
		t.Errorf("%q", msg)
	}
}
