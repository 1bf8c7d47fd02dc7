package engine_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

const (
	demoRef  = "streammachine/demo/1.0.2"
	exampleC = "streammachine/example/1.3.0"
	clickRef = "streammachine/clickstream/1.0.0"
	sensorJ  = "strmlocal/sensor-json/1.0.0"
)

// demoJSON is an example/1.3.0 event with the given consent levels (JSON
// text) and optional fields; "" stands for null.
func demoJSON(consent, unique, sensitive, notSensitive string) string {
	str := func(s string) string {
		if s == "" {
			return "null"
		}
		return `"` + s + `"`
	}
	return `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[` + consent + `]},` +
		`"uniqueIdentifier":` + str(unique) + `,"consistentValue":"c-1","someSensitiveValue":` + str(sensitive) +
		`,"notSensitiveValue":` + str(notSensitive) + `}`
}

// demoOut renders a demo event as AppendJSON does, fields given as JSON.
func demoOut(consent, unique, consistent, sensitive, notSensitive string) string {
	return `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[` + consent + `]},` +
		`"uniqueIdentifier":` + unique + `,"consistentValue":` + consistent + `,"someSensitiveValue":` + sensitive + `,"notSensitiveValue":` + notSensitive + `}`
}

// clickOut renders the sample clickstream event with the given consent
// levels and PII values (as JSON).
func clickOut(consent, session, customerID string) string {
	return `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[` + consent + `]},` +
		`"producerSessionId":` + session + `,` +
		`"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown",` +
		`"eventType":"product_view","referrer":"https://www.example.org/search?q=hiking+boots",` +
		`"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",` +
		`"conversion":0,"abTests":["checkout-v2","banner-b"],"customer":{"id":` + customerID + `}}`
}

func clickJSON(consent string) string {
	return strings.Replace(clickstreamJSON, `"consentLevels":[0,1]`, `"consentLevels":[`+consent+`]`, 1)
}

// stored runs ingest steps 1–5 on a JSON body with the fake key and returns
// the event as the log would give it back.
func stored(tb testing.TB, cat catalogue, schemaRef, contractRef, body string) (*engine.Event, *engine.CompiledContract) {
	tb.Helper()
	s, cc := cat.schema(tb, schemaRef), cat.contract(tb, contractRef)
	ev := decodeJSON(tb, s, body)
	if err := cc.Check(ev); err != nil {
		tb.Fatal(err)
	}
	if err := cc.Encrypt(ev, fakeKey{}); err != nil {
		tb.Fatal(err)
	}
	back, err := s.DecodeStored(ev.Encode(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return back, cc
}

func TestConsentType(t *testing.T) {
	if Cumulative, Granular := engine.Cumulative.String(), engine.Granular.String(); Cumulative != "CUMULATIVE" || Granular != "GRANULAR" {
		t.Errorf("String = %s, %s", Cumulative, Granular)
	}
	if got := engine.ConsentType(7).String(); got != "ConsentType(7)" {
		t.Errorf("String = %s", got)
	}
	for _, tc := range []struct {
		in   string
		want engine.ConsentType
		err  string
	}{
		{"CUMULATIVE", engine.Cumulative, ""},
		{"cumulative", engine.Cumulative, ""},
		{"GRANULAR", engine.Granular, ""},
		{"granular", engine.Granular, ""},
		{"Granular", engine.Granular, ""},
		{"", 0, "type: unknown consent type '' (want cumulative or granular)"},
		{"cumulativ", 0, "type: unknown consent type 'cumulativ' (want cumulative or granular)"},
	} {
		got, err := engine.ParseConsentType(tc.in)
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("ParseConsentType(%q) = %v, %v; want %v, %q", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, engine.ErrInvalidView) {
			t.Errorf("ParseConsentType(%q): %v is not ErrInvalidView", tc.in, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestViewValidate(t *testing.T) {
	cum := func(levels ...int32) engine.View { return engine.View{Type: engine.Cumulative, Levels: levels} }
	gran := func(levels ...int32) engine.View { return engine.View{Type: engine.Granular, Levels: levels} }
	masked := func(m map[string][]string) engine.View {
		return engine.View{Type: engine.Cumulative, Levels: []int32{1}, Masked: m, Seed: "s"}
	}
	for _, tc := range []struct {
		name string
		v    engine.View
		want []string // one line per problem; nil when valid
	}{
		{"cumulative", cum(2), nil},
		{"cumulative 0", cum(0), nil},
		{"granular", gran(0, 1), nil},
		{"granular one level", gran(3), nil},
		{"masked", masked(map[string][]string{exampleC: {"uniqueIdentifier", "notSensitiveValue"}}), nil},
		{"cumulative with several levels", cum(0, 1), []string{
			"levels: a CUMULATIVE stream takes exactly one level (got 0,1); use --consent-type granular for a set of levels"}},
		{"no type", engine.View{Levels: []int32{1}}, []string{"type: is required (CUMULATIVE or GRANULAR)"}},
		{"unknown type", engine.View{Type: 9, Levels: []int32{1}}, []string{"type: unknown consent type 9 (want CUMULATIVE or GRANULAR)"}},
		{"no levels", cum(), []string{"levels: at least one consent level is required"}},
		{"no levels granular", gran(), []string{"levels: at least one consent level is required"}},
		{"negative level", gran(0, -1), []string{"levels: -1 is not a valid consent level (must be >= 0)"}},
		{"duplicate level", gran(1, 2, 1, 1), []string{"levels: 1 is listed more than once"}},
		{"everything at once", engine.View{Levels: []int32{-2, 3, 3}, Masked: map[string][]string{
			"nope":   {"x"},
			exampleC: {"", "strmMeta", "strmMeta/keyLink", "uniqueIdentifier", "uniqueIdentifier"},
		}}, []string{
			"type: is required (CUMULATIVE or GRANULAR)",
			"levels: -2 is not a valid consent level (must be >= 0)",
			"levels: 3 is listed more than once",
			"masked: 'nope' is not a contract ref: invalid ref 'nope': must have the form handle/name/version",
			"masked: contract 'streammachine/example/1.3.0' lists an empty field path",
			"masked: 'strmMeta' (contract 'streammachine/example/1.3.0') is part of strmMeta, which is never masked",
			"masked: 'strmMeta/keyLink' (contract 'streammachine/example/1.3.0') is part of strmMeta, which is never masked",
			"masked: 'uniqueIdentifier' (contract 'streammachine/example/1.3.0') is listed more than once",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if got, want := errString(err), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if err != nil && !errors.Is(err, engine.ErrInvalidView) {
				t.Errorf("%v is not ErrInvalidView", err)
			}
			var de *engine.DefinitionError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("%v is not a *DefinitionError", err)
			}
		})
	}
}

func TestViewCheckMasked(t *testing.T) {
	cat := loadCatalogue(t)
	clickC := cat.contract(t, clickRef)
	v := engine.View{Type: engine.Granular, Levels: []int32{0}, Masked: map[string][]string{
		clickRef: {"url", "customer/id", "customer", "conversion", "abTests", "nope", "strmMeta/billingId"},
		exampleC: {"nope"}, // another contract: not checked here
	}}
	want := strings.Join([]string{
		"masked: 'customer' (contract 'streammachine/clickstream/1.0.0') must be a string or nullable string, but is record",
		"masked: 'conversion' (contract 'streammachine/clickstream/1.0.0') must be a string or nullable string, but is int",
		"masked: 'abTests' (contract 'streammachine/clickstream/1.0.0') must be a string or nullable string, but is array",
		"masked: 'nope' (contract 'streammachine/clickstream/1.0.0') does not exist in schema 'streammachine/clickstream/1.0.0'",
		"masked: 'strmMeta/billingId' (contract 'streammachine/clickstream/1.0.0') is part of strmMeta, which is never masked",
	}, "\n")
	if got := errString(v.CheckMasked(clickC)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := v.CheckMasked(cat.contract(t, "strmlocal/sensor/1.0.0")); err != nil {
		t.Errorf("no masked fields for sensor: %v", err)
	}
}

func TestViewKeeps(t *testing.T) {
	cum2 := engine.View{Type: engine.Cumulative, Levels: []int32{2}}
	gran01 := engine.View{Type: engine.Granular, Levels: []int32{0, 1}}
	for _, tc := range []struct {
		name    string
		v       engine.View
		consent []int32
		want    bool
	}{
		// The worked example (docs/pipeline.md, "Egress and derived streams"): CUMULATIVE level 2.
		{"cumulative 2 keeps [2]", cum2, []int32{2}, true},
		{"cumulative 2 keeps [3]", cum2, []int32{3}, true},
		{"cumulative 2 keeps [0,2]", cum2, []int32{0, 2}, true},
		{"cumulative 2 keeps [1,3]", cum2, []int32{1, 3}, true},
		{"cumulative 2 keeps [3,0] (order does not matter)", cum2, []int32{3, 0}, true},
		{"cumulative 2 drops [0]", cum2, []int32{0}, false},
		{"cumulative 2 drops [1]", cum2, []int32{1}, false},
		{"cumulative 2 drops [0,1]", cum2, []int32{0, 1}, false},
		{"cumulative 2 drops []", cum2, []int32{}, false},
		{"cumulative 2 drops nil", cum2, nil, false},
		{"cumulative 0 keeps [0]", engine.View{Type: engine.Cumulative, Levels: []int32{0}}, []int32{0}, true},
		{"cumulative 0 drops []", engine.View{Type: engine.Cumulative, Levels: []int32{0}}, nil, false},
		// GRANULAR {0,1}.
		{"granular 0,1 keeps [0,1]", gran01, []int32{0, 1}, true},
		{"granular 0,1 keeps [1,0]", gran01, []int32{1, 0}, true},
		{"granular 0,1 keeps [0,1,2]", gran01, []int32{0, 1, 2}, true},
		{"granular 0,1 drops [0]", gran01, []int32{0}, false},
		{"granular 0,1 drops [1]", gran01, []int32{1}, false},
		{"granular 0,1 drops [1,2]", gran01, []int32{1, 2}, false},
		{"granular 0,1 drops []", gran01, []int32{}, false},
		{"granular 0,1 drops [2] (no cumulative reading)", gran01, []int32{2}, false},
		// Invalid views keep nothing.
		{"no levels", engine.View{Type: engine.Granular}, []int32{0}, false},
		{"cumulative with two levels", engine.View{Type: engine.Cumulative, Levels: []int32{0, 1}}, []int32{0, 1}, false},
		{"no type", engine.View{Levels: []int32{0}}, []int32{0}, false},
	} {
		if got := tc.v.Keeps(tc.consent); got != tc.want {
			t.Errorf("%s: Keeps(%v) = %v", tc.name, tc.consent, got)
		}
	}
}

func TestViewDecrypts(t *testing.T) {
	cum2 := engine.View{Type: engine.Cumulative, Levels: []int32{2}}
	gran := engine.View{Type: engine.Granular, Levels: []int32{0, 3}}
	for _, tc := range []struct {
		v     engine.View
		level int
		want  bool
	}{
		{cum2, 0, true}, {cum2, 1, true}, {cum2, 2, true}, {cum2, 3, false}, {cum2, -1, false},
		{gran, 0, true}, {gran, 1, false}, {gran, 2, false}, {gran, 3, true}, {gran, 4, false},
		{gran, 1 << 32, false}, // beyond int32: no wrap-around to level 0
		{engine.View{Type: engine.Cumulative, Levels: []int32{0, 1}}, 0, false},
		{engine.View{Levels: []int32{1}}, 0, false},
	} {
		if got := tc.v.Decrypts(tc.level); got != tc.want {
			t.Errorf("%s %v: Decrypts(%d) = %v", tc.v.Type, tc.v.Levels, tc.level, got)
		}
	}
}

// Masks used below, as Mask computes them (TestMask pins the algorithm).
const (
	maskSU1 = "3db6e2e907f2b773c9adaa5860ffeb37" // Mask("s", "u-1")
	maskSN1 = "17aacab240e226f9a19d35170b57e634" // Mask("s", "n-1")
)

func TestApply(t *testing.T) {
	cat := loadCatalogue(t)
	cum := func(l int32) engine.View { return engine.View{Type: engine.Cumulative, Levels: []int32{l}} }
	gran := func(levels ...int32) engine.View { return engine.View{Type: engine.Granular, Levels: levels} }
	withMask := func(v engine.View, seed string, m map[string][]string) engine.View {
		v.Masked, v.Seed = m, seed
		return v
	}
	const (
		encU = `"enc(uniqueIdentifier:u-1)"`
		encC = `"enc(consistentValue:c-1)"`
		encS = `"enc(someSensitiveValue:s-1)"`
		encP = `"enc(producerSessionId:session-4711)"`
		encI = `"enc(customer/id:customer-0042)"`
		sess = `"session-4711"`
		cust = `"customer-0042"`
	)
	cases := []struct {
		name             string
		schema, contract string
		in               string // plaintext JSON, as produced
		v                engine.View
		shredded         bool // decrypt with nil
		want             string
		applied          engine.Applied
	}{
		// The worked example (docs/pipeline.md, "Egress and derived streams"): CUMULATIVE 2 on example/1.3.0.
		{name: "worked example, consent [2]", schema: demoRef, contract: exampleC,
			in: demoJSON("2", "u-1", "s-1", "n-1"), v: cum(2),
			want:    demoOut("2", `"u-1"`, `"c-1"`, encS, `"n-1"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue", "uniqueIdentifier"}, Encrypted: []string{"someSensitiveValue"}}},
		{name: "worked example, consent [3]", schema: demoRef, contract: exampleC,
			in: demoJSON("3", "u-1", "s-1", "n-1"), v: cum(2),
			want:    demoOut("3", `"u-1"`, `"c-1"`, encS, `"n-1"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue", "uniqueIdentifier"}, Encrypted: []string{"someSensitiveValue"}}},
		{name: "worked example, consent [1,3]", schema: demoRef, contract: exampleC,
			in: demoJSON("1,3", "u-1", "s-1", "n-1"), v: cum(2),
			want:    demoOut("1,3", `"u-1"`, `"c-1"`, encS, `"n-1"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue", "uniqueIdentifier"}, Encrypted: []string{"someSensitiveValue"}}},
		{name: "cumulative 3 decrypts everything", schema: demoRef, contract: exampleC,
			in: demoJSON("3", "u-1", "s-1", "n-1"), v: cum(3),
			want:    demoOut("3", `"u-1"`, `"c-1"`, `"s-1"`, `"n-1"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}}},
		{name: "cumulative 0 decrypts no demo PII", schema: demoRef, contract: exampleC,
			in: demoJSON("3", "u-1", "s-1", "n-1"), v: cum(0),
			want:    demoOut("3", encU, encC, encS, `"n-1"`),
			applied: engine.Applied{Encrypted: []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}}},
		{name: "null PII stays null", schema: demoRef, contract: exampleC,
			in: demoJSON("3", "", "", ""), v: cum(3),
			want:    demoOut("3", "null", `"c-1"`, "null", "null"),
			applied: engine.Applied{Decrypted: []string{"consistentValue"}}},

		// GRANULAR on clickstream (customer/id level 0, producerSessionId level 1).
		{name: "granular 0,1 round trip", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1"), v: gran(0, 1),
			want:    clickOut("0,1", sess, cust),
			applied: engine.Applied{Decrypted: []string{"customer/id", "producerSessionId"}}},
		{name: "granular 0,1 with consent [0,1,2]", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1,2"), v: gran(0, 1),
			want:    clickOut("0,1,2", sess, cust),
			applied: engine.Applied{Decrypted: []string{"customer/id", "producerSessionId"}}},
		{name: "granular 1 decrypts only level 1", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1"), v: gran(1),
			want:    clickOut("0,1", sess, encI),
			applied: engine.Applied{Decrypted: []string{"producerSessionId"}, Encrypted: []string{"customer/id"}}},
		{name: "granular 0,2 decrypts only level 0", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1,2"), v: gran(0, 2),
			want:    clickOut("0,1,2", encP, cust),
			applied: engine.Applied{Decrypted: []string{"customer/id"}, Encrypted: []string{"producerSessionId"}}},

		// JSON Schema.
		{name: "JSON Schema decrypt", schema: sensorJ, contract: sensorJ,
			in: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01","operatorBadge":"B004217",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			v: gran(1),
			want: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01","operatorBadge":"B004217",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			applied: engine.Applied{Decrypted: []string{"operatorBadge"}}},
		{name: "JSON Schema absent PII stays absent", schema: sensorJ, contract: sensorJ,
			in: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			v: withMask(gran(1), "s", map[string][]string{sensorJ: {"operatorBadge"}}),
			want: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			applied: engine.Applied{}},

		// Shredded: the key is gone.
		{name: "shredded", schema: demoRef, contract: exampleC,
			in: demoJSON("2", "u-1", "s-1", "n-1"), v: cum(2), shredded: true,
			want:    demoOut("2", encU, encC, encS, `"n-1"`),
			applied: engine.Applied{Encrypted: []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}, Shredded: true}},
		{name: "shredded clickstream", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1"), v: gran(0, 1), shredded: true,
			want:    clickOut("0,1", encP, encI),
			applied: engine.Applied{Encrypted: []string{"customer/id", "producerSessionId"}, Shredded: true}},
		{name: "no key but nothing lost: not shredded", schema: demoRef, contract: exampleC,
			in: demoJSON("3", "u-1", "s-1", "n-1"), v: cum(0), shredded: true,
			want:    demoOut("3", encU, encC, encS, `"n-1"`),
			applied: engine.Applied{Encrypted: []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}}},

		// Masking.
		{name: "mask decrypted PII and non-PII; undecrypted PII stays ciphertext", schema: demoRef, contract: exampleC,
			in:   demoJSON("2", "u-1", "s-1", "n-1"),
			v:    withMask(cum(2), "s", map[string][]string{exampleC: {"uniqueIdentifier", "notSensitiveValue", "someSensitiveValue"}}),
			want: demoOut("2", `"`+maskSU1+`"`, `"c-1"`, encS, `"`+maskSN1+`"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue"}, Masked: []string{"notSensitiveValue", "uniqueIdentifier"},
				Encrypted: []string{"someSensitiveValue"}}},
		{name: "masked null stays null", schema: demoRef, contract: exampleC,
			in:      demoJSON("2", "", "s-1", ""),
			v:       withMask(cum(2), "s", map[string][]string{exampleC: {"uniqueIdentifier", "notSensitiveValue"}}),
			want:    demoOut("2", "null", `"c-1"`, encS, "null"),
			applied: engine.Applied{Decrypted: []string{"consistentValue"}, Encrypted: []string{"someSensitiveValue"}}},
		{name: "masks of another contract do not apply", schema: demoRef, contract: exampleC,
			in:      demoJSON("2", "u-1", "s-1", "n-1"),
			v:       withMask(cum(2), "s", map[string][]string{clickRef: {"url"}}),
			want:    demoOut("2", `"u-1"`, `"c-1"`, encS, `"n-1"`),
			applied: engine.Applied{Decrypted: []string{"consistentValue", "uniqueIdentifier"}, Encrypted: []string{"someSensitiveValue"}}},
		{name: "shredded: masked PII stays ciphertext, masked non-PII is masked", schema: demoRef, contract: exampleC,
			in: demoJSON("2", "u-1", "s-1", "n-1"), shredded: true,
			v:    withMask(cum(2), "s", map[string][]string{exampleC: {"uniqueIdentifier", "notSensitiveValue"}}),
			want: demoOut("2", encU, encC, encS, `"`+maskSN1+`"`),
			applied: engine.Applied{Masked: []string{"notSensitiveValue"},
				Encrypted: []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}, Shredded: true}},
		{name: "mask nested PII and a non-PII string", schema: clickRef, contract: clickRef,
			in: clickJSON("0,1"),
			v:  withMask(gran(0, 1), "", map[string][]string{clickRef: {"customer/id", "eventType"}}),
			want: strings.Replace(clickOut("0,1", sess, `"`+engine.Mask("", "customer-0042")+`"`),
				`"product_view"`, `"`+engine.Mask("", "product_view")+`"`, 1),
			applied: engine.Applied{Decrypted: []string{"producerSessionId"}, Masked: []string{"customer/id", "eventType"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.v.Validate(); err != nil {
				t.Fatal(err)
			}
			ev, cc := stored(t, cat, tc.schema, tc.contract, tc.in)
			if !tc.v.Keeps(ev.ConsentLevels()) {
				t.Fatalf("view does not keep consent %v", ev.ConsentLevels())
			}
			var dec engine.Decrypter = fakeKey{}
			if tc.shredded {
				dec = nil
			}
			a, err := tc.v.Apply(ev, cc, dec)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(ev.AppendJSON(nil)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !reflect.DeepEqual(a, tc.applied) {
				t.Errorf("Applied = %#v\nwant %#v", a, tc.applied)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	cat := loadCatalogue(t)
	gran01 := engine.View{Type: engine.Granular, Levels: []int32{0, 1}}

	t.Run("tampered ciphertext", func(t *testing.T) {
		ev, cc := stored(t, cat, clickRef, clickRef, clickstreamJSON)
		// Move producerSessionId's ciphertext into customer/id: the path is
		// the associated data, so it must not decrypt there.
		moved, _, err := ev.GetStringPath("producerSessionId")
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.SetStringPath("customer/id", moved); err != nil {
			t.Fatal(err)
		}
		_, err = gran01.Apply(ev, cc, fakeKey{})
		const want = "engine: cannot decrypt: field 'customer/id' of contract 'streammachine/clickstream/1.0.0': fake: message authentication failed"
		if errString(err) != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if !errors.Is(err, engine.ErrDecrypt) || !errors.Is(err, errFakeAuth) {
			t.Errorf("%v does not match ErrDecrypt and the decrypter's error", err)
		}
		for _, secret := range []string{"session-4711", "customer-0042", moved} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes %q", secret)
			}
		}
	})

	// The remaining errors come before any change to the event.
	ownContract := map[string]string{clickRef: clickRef, demoRef: exampleC}
	for _, tc := range []struct {
		name     string
		schema   string
		contract string // the contract Apply is given
		in       string
		v        engine.View
		want     string
		kind     error
	}{
		{"not kept", demoRef, exampleC, demoJSON("1", "u-1", "s-1", "n-1"), engine.View{Type: engine.Cumulative, Levels: []int32{2}},
			"engine: event not in derived stream: stream CUMULATIVE 2 does not keep this event of contract 'streammachine/example/1.3.0'", engine.ErrNotInView},
		{"not kept: empty consent", clickRef, clickRef, clickJSON(""), gran01,
			"engine: event not in derived stream: stream GRANULAR 0,1 does not keep this event of contract 'streammachine/clickstream/1.0.0'", engine.ErrNotInView},
		{"invalid view keeps nothing", clickRef, clickRef, clickstreamJSON, engine.View{Type: engine.Cumulative, Levels: []int32{0, 1}},
			"engine: event not in derived stream: stream CUMULATIVE 0,1 does not keep this event of contract 'streammachine/clickstream/1.0.0'", engine.ErrNotInView},
		{"masked field not a string", clickRef, clickRef, clickstreamJSON,
			engine.View{Type: engine.Granular, Levels: []int32{0}, Masked: map[string][]string{clickRef: {"url", "conversion"}}},
			"masked: 'conversion' (contract 'streammachine/clickstream/1.0.0') must be a string or nullable string, but is int", engine.ErrInvalidView},
		{"masked strmMeta", clickRef, clickRef, clickstreamJSON,
			engine.View{Type: engine.Granular, Levels: []int32{0}, Masked: map[string][]string{clickRef: {"strmMeta/eventContractRef"}}},
			"masked: 'strmMeta/eventContractRef' (contract 'streammachine/clickstream/1.0.0') is part of strmMeta, which is never masked", engine.ErrInvalidView},
		{"masked twice", clickRef, clickRef, clickstreamJSON,
			engine.View{Type: engine.Granular, Levels: []int32{0}, Masked: map[string][]string{clickRef: {"url", "url"}}},
			"masked: 'url' (contract 'streammachine/clickstream/1.0.0') is listed more than once", engine.ErrInvalidView},
		{"contract of another schema", clickRef, exampleC, clickstreamJSON, gran01,
			"engine: bad field access: event contract 'streammachine/example/1.3.0' is for schema 'streammachine/demo/1.0.2', not for the event's schema 'streammachine/clickstream/1.0.0'", engine.ErrField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, _ := stored(t, cat, tc.schema, ownContract[tc.schema], tc.in)
			before := string(ev.AppendJSON(nil))
			a, err := tc.v.Apply(ev, cat.contract(t, tc.contract), fakeKey{})
			if errString(err) != tc.want || !errors.Is(err, tc.kind) {
				t.Errorf("err = %v\nwant %s (%v)", err, tc.want, tc.kind)
			}
			if !reflect.DeepEqual(a, engine.Applied{}) {
				t.Errorf("Applied = %#v", a)
			}
			if got := string(ev.AppendJSON(nil)); got != before {
				t.Errorf("event changed on error:\n%s", got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		seed, value, want string
	}{
		// Empty seed = unseeded MurmurHash3 x64-128, little-endian h1 then h2:
		// Guava's Murmur3_128 test vector for "hell" has h1 = 0x629942693e10f867,
		// h2 = 0x92db0b82baeb5347.
		{"", "hell", "67f8103e694299624753ebba820bdb92"},
		{"", "", "00000000000000000000000000000000"},
		{"s", "u-1", maskSU1},
		{"s", "n-1", maskSN1},
		{"strmlocal-demo-seed", "customer-0042", "d320084d36f7036fbdf85e8cf157eb06"},
		{"strmlocal-demo-seed2", "customer-0042", "0c94345a3b31f95cf1c047204072703c"},
	} {
		if got := engine.Mask(tc.seed, tc.value); got != tc.want {
			t.Errorf("Mask(%q, %q) = %s, want %s", tc.seed, tc.value, got, tc.want)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, clickRef)
	cc := cat.contract(b, clickRef)
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	if err := cc.Encrypt(ev, constKey{}); err != nil {
		b.Fatal(err)
	}
	v := engine.View{Type: engine.Granular, Levels: []int32{0, 1}}
	b.ReportAllocs()
	for b.Loop() {
		// Clone so every iteration decrypts ciphertext; Clone is one
		// allocation, counted here.
		e := ev.Clone()
		a, err := v.Apply(e, cc, constKey{})
		if err != nil || len(a.Decrypted) != 2 {
			b.Fatal(a, err)
		}
	}
}

// BenchmarkReadDerived is the derived-stream read path for one stored
// record: decode, apply the view, render as JSON.
func BenchmarkReadDerived(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, clickRef)
	cc := cat.contract(b, clickRef)
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	if err := cc.Encrypt(ev, constKey{}); err != nil {
		b.Fatal(err)
	}
	body := ev.Encode(nil)
	v := engine.View{Type: engine.Granular, Levels: []int32{0, 1}}
	var out []byte
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.DecodeStored(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Apply(e, cc, constKey{}); err != nil {
			b.Fatal(err)
		}
		out = e.AppendJSON(out[:0])
	}
}
