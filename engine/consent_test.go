package engine_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// decodeAllocs returns the bytes allocated by one s.Decode of body, and its
// error.
func decodeAllocs(s *engine.Schema, ser engine.Serialization, body []byte) (uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := s.Decode(ser, body)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestDefect7ConsentLevelsBounded: strmMeta.consentLevels was unbounded and
// kept as given. A 1 MiB Avro event with 1,048,476 levels was accepted (the
// decoder built a million-value array; a server took +152 MiB RSS per such
// event in flight), and [2,2,2,3,3] was stored as such. Now an event holds at
// most 64 levels, each from 0 to 1023; the decoder refuses a longer list
// before building it, and an accepted event holds its levels sorted without
// duplicates (docs/pipeline.md, "Ingest").
func TestDefect7ConsentLevelsBounded(t *testing.T) {
	cat := loadCatalogue(t)
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	sensorJSON := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	const tooMany = "Field: 'strmMeta/consentLevels' in event with schema: '%s' holds more than 64 consent levels (at most 64 values, each from 0 to 1023)"

	// A body of 1 MiB, nearly all of it consent levels: 1 byte each in Avro
	// binary, 2 in JSON.
	const levels = 1_048_476
	avroBody := enc{}.str("streammachine/example/1.3.0").long(0).long(0).long(0).long(0).long(levels)
	for range levels {
		avroBody = avroBody.long(0)
	}
	avroBody = avroBody.long(0).long(0).str("session-1").long(0).long(0)
	jsonLevels := strings.Repeat("2,", levels/2-1) + "3"
	for _, tc := range []struct {
		name string
		s    *engine.Schema
		ser  engine.Serialization
		body []byte
	}{
		{"avro binary", demo, engine.AvroBinary, avroBody},
		{"avro json", demo, engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[` + jsonLevels + `]},"consistentValue":"c-1"}`)},
		{"json schema", sensorJSON, engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[` + jsonLevels + `]},"machineId":"MCH-00042","siteId":"AMS-01","operatorBadge":null,"measuredAt":1700000000000,"temperatureCelsius":21.5,"vibrationMmPerS":0.8,"rpm":1200,"powerState":"RUNNING","readingStatus":"OK"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allocated, err := decodeAllocs(tc.s, tc.ser, tc.body)
			want := fmt.Sprintf(tooMany, tc.s.Ref())
			if err == nil {
				t.Fatalf("%d-byte event with about a million consent levels accepted (%d bytes allocated)", len(tc.body), allocated)
			}
			if msg := rejectMsg(t, err, engine.ErrRejected); msg != want {
				t.Errorf("message %q\nwant %q", msg, want)
			}
			// The body is copied once; a million decoded values would be 32 MiB.
			if limit := uint64(2*len(tc.body) + 1<<20); allocated > limit {
				t.Errorf("decoding allocated %d bytes before refusing, want at most %d", allocated, limit)
			}
		})
	}

	// Accepted levels are sorted and deduplicated, in the event as stored and
	// in what ConsentLevels (and so the record metadata) reports.
	contracts := func(ref string) (*engine.CompiledContract, error) { return cat.contract(t, ref), nil }
	for _, tc := range []struct {
		given string
		want  []int32
	}{
		{"[2,2,2,3,3]", []int32{2, 3}},
		{"[3,1,2,1,0]", []int32{0, 1, 2, 3}},
		{"[1023,0,1023]", []int32{0, 1023}},
		{"[" + strings.TrimSuffix(strings.Repeat("7,", 64), ",") + "]", []int32{7}},
		{"[]", nil},
	} {
		body := `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":` + tc.given + `},"consistentValue":"c-1"}`
		ev, _, err := engine.Validate(demo, engine.JSON, []byte(body), engine.DefaultMaxEventBytes, contracts)
		if err != nil {
			t.Fatalf("%s: %v", tc.given, err)
		}
		if got := ev.ConsentLevels(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ConsentLevels = %v, want %v", tc.given, got, tc.want)
		}
		back, err := demo.DecodeStored(ev.Encode(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := back.ConsentLevels(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: stored ConsentLevels = %v, want %v", tc.given, got, tc.want)
		}
	}

	// 65 levels are refused even when they would dedupe to fewer: the bound
	// is on the list as given, which is what the decoder holds.
	body := `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[` + strings.TrimSuffix(strings.Repeat("7,", 65), ",") + `]},"consistentValue":"c-1"}`
	_, _, err := engine.Validate(demo, engine.JSON, []byte(body), engine.DefaultMaxEventBytes, contracts)
	if msg := rejectMsg(t, err, engine.ErrRejected); msg != fmt.Sprintf(tooMany, demo.Ref()) {
		t.Errorf("65 levels: %q", msg)
	}
	// A level above 1023 is refused by the contract check.
	body = `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[2,1024]},"consistentValue":"c-1"}`
	_, _, err = engine.Validate(demo, engine.JSON, []byte(body), engine.DefaultMaxEventBytes, contracts)
	want := "Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' with value: '1024' is not a valid consent level (must be an integer from 0 to 1023)"
	if msg := rejectMsg(t, err, engine.ErrRejected); msg != want {
		t.Errorf("level 1024: %q", msg)
	}
}
