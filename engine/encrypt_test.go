package engine_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// fakeKey is a reversible stand-in for *keys.Key: Encrypt wraps the value as
// "enc(path:value)", so tests can read exactly what happened to each field,
// and Decrypt checks the path like associated data would.
type fakeKey struct{}

var errFakeAuth = errors.New("fake: message authentication failed")

func (fakeKey) Encrypt(path, plaintext string) string {
	return "enc(" + path + ":" + plaintext + ")"
}

func (fakeKey) Decrypt(path, ciphertext string) (string, error) {
	pt, ok := strings.CutPrefix(ciphertext, "enc("+path+":")
	if !ok {
		return "", errFakeAuth
	}
	pt, ok = strings.CutSuffix(pt, ")")
	if !ok {
		return "", errFakeAuth
	}
	return pt, nil
}

func decodeJSON(tb testing.TB, s *engine.Schema, body string) *engine.Event {
	tb.Helper()
	ev, err := s.Decode(engine.JSON, []byte(body))
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func TestEncrypt(t *testing.T) {
	cat := loadCatalogue(t)
	cases := []struct {
		name     string
		schema   string
		contract string
		in       string
		want     string
	}{
		{
			name:   "clickstream: nested and key-field PII",
			schema: "streammachine/clickstream/1.0.0", contract: "streammachine/clickstream/1.0.0",
			in: clickstreamJSON,
			want: `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[0,1]},` +
				`"producerSessionId":"enc(producerSessionId:session-4711)",` +
				`"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown",` +
				`"eventType":"product_view","referrer":"https://www.example.org/search?q=hiking+boots",` +
				`"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",` +
				`"conversion":0,"abTests":["checkout-v2","banner-b"],"customer":{"id":"enc(customer/id:customer-0042)"}}`,
		},
		{
			name:   "demo: all PII set",
			schema: "streammachine/demo/1.0.2", contract: "streammachine/example/1.3.0",
			in: `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[2]},` +
				`"uniqueIdentifier":"u-1","consistentValue":"c-1","someSensitiveValue":"s-1","notSensitiveValue":"n-1"}`,
			want: `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[2]},` +
				`"uniqueIdentifier":"enc(uniqueIdentifier:u-1)","consistentValue":"enc(consistentValue:c-1)",` +
				`"someSensitiveValue":"enc(someSensitiveValue:s-1)","notSensitiveValue":"n-1"}`,
		},
		{
			name:   "demo: null nullable PII stays null, empty string is encrypted",
			schema: "streammachine/demo/1.0.2", contract: "streammachine/example/1.3.0",
			in: `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[2]},` +
				`"uniqueIdentifier":null,"consistentValue":"c-1","someSensitiveValue":""}`,
			want: `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[2]},` +
				`"uniqueIdentifier":null,"consistentValue":"enc(consistentValue:c-1)",` +
				`"someSensitiveValue":"enc(someSensitiveValue:)","notSensitiveValue":null}`,
		},
		{
			name:   "JSON Schema: PII set",
			schema: "strmlocal/sensor-json/1.0.0", contract: "strmlocal/sensor-json/1.0.0",
			in: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"operatorBadge":"B004217","measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			want: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"operatorBadge":"enc(operatorBadge:B004217)","measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
		},
		{
			name:   "JSON Schema: null PII stays null",
			schema: "strmlocal/sensor-json/1.0.0", contract: "strmlocal/sensor-json/1.0.0",
			in: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"operatorBadge":null,"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			want: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"operatorBadge":null,"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
		},
		{
			name:   "JSON Schema: absent PII stays absent",
			schema: "strmlocal/sensor-json/1.0.0", contract: "strmlocal/sensor-json/1.0.0",
			in: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
			want: `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",` +
				`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, cc := cat.schema(t, tc.schema), cat.contract(t, tc.contract)
			ev := decodeJSON(t, s, tc.in)
			if err := cc.Encrypt(ev, fakeKey{}); err != nil {
				t.Fatal(err)
			}
			if got := string(ev.AppendJSON(nil)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			// The stored form decodes again, without validation.
			back, err := s.DecodeStored(ev.Encode(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(back.AppendJSON(nil)); got != tc.want {
				t.Errorf("stored form reads back as\n%s", got)
			}
		})
	}
}

func TestKeyAndDataSubjectValue(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	clickC := cat.contract(t, "streammachine/clickstream/1.0.0")
	demoC := cat.contract(t, "streammachine/example/1.3.0")
	sensorJ := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	sensorJC := cat.contract(t, "strmlocal/sensor-json/1.0.0")

	ev := decodeJSON(t, click, clickstreamJSON)
	if v, ok := clickC.KeyValue(ev); v != "session-4711" || !ok {
		t.Errorf("KeyValue = %q, %v", v, ok)
	}
	if v, ok := clickC.DataSubjectValue(ev); v != "customer-0042" || !ok {
		t.Errorf("DataSubjectValue = %q, %v", v, ok)
	}
	// Both are PII in this contract: after Encrypt they read as ciphertext,
	// which is why the ingest pipeline reads them first.
	if err := clickC.Encrypt(ev, fakeKey{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := clickC.KeyValue(ev); v != "enc(producerSessionId:session-4711)" {
		t.Errorf("KeyValue after Encrypt = %q", v)
	}
	// Another contract's fields do not read this schema's events.
	if v, ok := demoC.KeyValue(ev); ok {
		t.Errorf("demo KeyValue on a clickstream event = %q, true", v)
	}
	if v, ok := demoC.DataSubjectValue(ev); ok {
		t.Errorf("demo (no data-subject field) DataSubjectValue = %q, true", v)
	}

	sev := decodeJSON(t, sensorJ, `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},"machineId":"MCH-00042","siteId":"AMS-01",`+
		`"measuredAt":1767225600000,"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`)
	if v, ok := sensorJC.KeyValue(sev); v != "MCH-00042" || !ok {
		t.Errorf("sensor KeyValue = %q, %v", v, ok)
	}
	if v, ok := sensorJC.DataSubjectValue(sev); ok {
		t.Errorf("absent data subject = %q, true", v)
	}
}

// badKey returns a ciphertext that is not valid UTF-8 for one path.
type badKey struct{ path string }

func (k badKey) Encrypt(path, plaintext string) string {
	if path == k.path {
		return "\xff"
	}
	return fakeKey{}.Encrypt(path, plaintext)
}

func TestEncryptErrors(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	clickC := cat.contract(t, "streammachine/clickstream/1.0.0")
	demoC := cat.contract(t, "streammachine/example/1.3.0")

	t.Run("schema mismatch", func(t *testing.T) {
		ev := decodeJSON(t, click, clickstreamJSON)
		err := demoC.Encrypt(ev, fakeKey{})
		const want = "engine: bad field access: event contract 'streammachine/example/1.3.0' is for schema 'streammachine/demo/1.0.2', not for the event's schema 'streammachine/clickstream/1.0.0'"
		if err == nil || err.Error() != want || !errors.Is(err, engine.ErrField) {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		if got := string(ev.AppendJSON(nil)); strings.Contains(got, "enc(") {
			t.Errorf("event changed: %s", got)
		}
	})
	t.Run("all or nothing", func(t *testing.T) {
		// producerSessionId sorts after customer/id: the first field's
		// ciphertext must not be stored when the second fails.
		ev := decodeJSON(t, click, clickstreamJSON)
		before := string(ev.AppendJSON(nil))
		err := clickC.Encrypt(ev, badKey{path: "producerSessionId"})
		const want = "engine: bad field access: ciphertext for field 'producerSessionId' is not valid UTF-8"
		if err == nil || err.Error() != want || !errors.Is(err, engine.ErrField) {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		if got := string(ev.AppendJSON(nil)); got != before {
			t.Errorf("event changed on error:\n%s", got)
		}
	})
}

// constKey is the cheapest Encrypter and Decrypter, so benchmarks measure the
// engine rather than the cipher.
type constKey struct{}

func (constKey) Encrypt(path, plaintext string) string {
	return "AZp3cXkQ9rM2v0Lh1c1a2b3c4d5e6f7g8h9i0jA="
}

func (constKey) Decrypt(path, ciphertext string) (string, error) {
	return "plaintext-value", nil
}

func BenchmarkEncrypt(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	cc := cat.contract(b, "streammachine/clickstream/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// Clone so every iteration encrypts plaintext; Clone is one
		// allocation, counted here.
		e := ev.Clone()
		if err := cc.Encrypt(e, constKey{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A PII field inside a nullable record is absent when the record is null:
// Encrypt and Apply leave it so, and it is in none of Applied's lists.
func TestEncryptNullParentRecord(t *testing.T) {
	const def = `{"type":"record","name":"E","fields":[
		{"name":"strmMeta","type":{"type":"record","name":"StrmMeta","fields":[
			{"name":"eventContractRef","type":"string"},
			{"name":"nonce","type":["null","int"],"default":null},
			{"name":"timestamp","type":["null","long"],"default":null},
			{"name":"keyLink","type":["null","string"],"default":null},
			{"name":"billingId","type":["null","string"],"default":null},
			{"name":"consentLevels","type":{"type":"array","items":"int"}}]}},
		{"name":"device","type":"string"},
		{"name":"person","type":["null",{"type":"record","name":"Person","fields":[
			{"name":"name","type":"string"},
			{"name":"email","type":["null","string"],"default":null}]}],"default":null}]}`
	ref := engine.Ref{Handle: "test", Name: "person", Version: "1.0.0"}
	s, err := engine.CompileSchema(ref, engine.Avro, []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := engine.CompileContract(engine.Contract{Ref: ref, SchemaRef: ref, KeyField: "device",
		PIIFields: map[string]int{"device": 0, "person/name": 1, "person/email": 1}}, s)
	if err != nil {
		t.Fatal(err)
	}
	const meta = `{"strmMeta":{"eventContractRef":"test/person/1.0.0","consentLevels":[1]},`
	const metaOut = `{"strmMeta":{"eventContractRef":"test/person/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[1]},`
	v := engine.View{Type: engine.Cumulative, Levels: []int32{1}}
	for _, tc := range []struct {
		name, in, encrypted, applied string
		decrypted                    []string
	}{
		{"null record", meta + `"device":"d-1","person":null}`,
			metaOut + `"device":"enc(device:d-1)","person":null}`,
			metaOut + `"device":"d-1","person":null}`,
			[]string{"device"}},
		{"record with null email", meta + `"device":"d-1","person":{"name":"Ann","email":null}}`,
			metaOut + `"device":"enc(device:d-1)","person":{"name":"enc(person/name:Ann)","email":null}}`,
			metaOut + `"device":"d-1","person":{"name":"Ann","email":null}}`,
			[]string{"device", "person/name"}},
		{"record with email", meta + `"device":"d-1","person":{"name":"Ann","email":"ann@example.com"}}`,
			metaOut + `"device":"enc(device:d-1)","person":{"name":"enc(person/name:Ann)","email":"enc(person/email:ann@example.com)"}}`,
			metaOut + `"device":"d-1","person":{"name":"Ann","email":"ann@example.com"}}`,
			[]string{"device", "person/email", "person/name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := decodeJSON(t, s, tc.in)
			if err := cc.Encrypt(ev, fakeKey{}); err != nil {
				t.Fatal(err)
			}
			if got := string(ev.AppendJSON(nil)); got != tc.encrypted {
				t.Errorf("encrypted:\n%s\nwant\n%s", got, tc.encrypted)
			}
			ev, err := s.DecodeStored(ev.Encode(nil))
			if err != nil {
				t.Fatal(err)
			}
			a, err := v.Apply(ev, cc, fakeKey{})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(ev.AppendJSON(nil)); got != tc.applied {
				t.Errorf("applied:\n%s\nwant\n%s", got, tc.applied)
			}
			if !slices.Equal(a.Decrypted, tc.decrypted) || a.Masked != nil || a.Encrypted != nil || a.Shredded {
				t.Errorf("Applied = %#v", a)
			}
		})
	}
}
