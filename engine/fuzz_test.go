package engine_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// Fuzz targets: decoding must never panic, and whatever decodes must survive
// re-encoding and rendering unchanged. Seeds live in testdata/fuzz/<target>.
//
//	go test ./engine -run '^$' -fuzz FuzzDecodeAvro -fuzztime 60s

// fuzzSchemas are the Avro schemas a fuzz input can pick with its selector.
func fuzzSchemas(tb testing.TB) []*engine.Schema {
	cat := loadCatalogue(tb)
	compile := func(def string) *engine.Schema {
		s, err := engine.CompileSchema(testRef, engine.Avro, []byte(def))
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	return []*engine.Schema{
		cat.schema(tb, "streammachine/clickstream/1.0.0"),
		cat.schema(tb, "streammachine/demo/1.0.2"),
		cat.schema(tb, "strmlocal/sensor/1.0.0"),
		compile(avroRecord(avroMeta(nil), everyTypeFields)),
		compile(unionSchema),
		compile(avroRecord(avroMeta(nil), `{"name":"node","type":["null",{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]},{"name":"kids","type":{"type":"array","items":"Node"}}]}]}`)),
	}
}

// fuzzContracts returns the catalogue contract for a schema, if any.
func fuzzContracts(tb testing.TB) map[*engine.Schema]*engine.CompiledContract {
	cat := loadCatalogue(tb)
	out := map[*engine.Schema]*engine.CompiledContract{}
	for _, cc := range cat.contracts {
		out[cc.Schema()] = cc
	}
	return out
}

// checkDecoded verifies the invariants of a decoded event.
func checkDecoded(t *testing.T, s *engine.Schema, ev *engine.Event, cc *engine.CompiledContract) {
	t.Helper()
	if cc != nil {
		_ = cc.Check(ev)
	}
	j := ev.AppendJSON(nil)
	if !json.Valid(j) {
		t.Fatalf("AppendJSON is not valid JSON: %q", j)
	}
	enc := ev.Encode(nil)
	ev2, err := s.Decode(s.DefaultSerialization(), enc)
	if err != nil {
		t.Fatalf("re-encoded event does not decode: %v\n%q", err, enc)
	}
	if enc2 := ev2.Encode(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("encode → decode → encode changed the bytes:\n%x\n%x", enc, enc2)
	}
	ev3, err := s.Decode(engine.JSON, j)
	if err != nil {
		t.Fatalf("rendered JSON does not decode: %v\n%s", err, j)
	}
	if j3 := ev3.AppendJSON(nil); !bytes.Equal(j, j3) {
		t.Fatalf("JSON rendering does not round-trip:\n%s\n%s", j, j3)
	}
	// The accessors the encryption package uses must not panic either.
	ev.SetNonce(1)
	ev.SetTimestamp(2)
	_ = ev.SetKeyLink("k")
	_ = ev.ContractRef()
	_ = ev.ConsentLevels()
	for _, f := range s.Fields() {
		if v, ok := ev.GetString(f); ok {
			_ = ev.SetString(f, v+"!")
		}
	}
	if _, err := s.DecodeStored(ev.Encode(nil)); err != nil {
		t.Fatalf("event changed by the setters does not decode: %v", err)
	}
}

func FuzzDecodeAvro(f *testing.F) {
	schemas := fuzzSchemas(f)
	contracts := fuzzContracts(f)
	f.Add(uint8(0), marshal(f, schemas[0], sampleClickstream()))
	f.Add(uint8(1), marshal(f, schemas[1], demoEvent{StrmMeta: strmMeta{EventContractRef: "x", ConsentLevels: []int32{1}}, ConsistentValue: "s", UniqueIdentifier: ptr("u")}))
	f.Add(uint8(3), everyTypeBody())
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		s := schemas[int(which)%len(schemas)]
		ev, err := s.Decode(engine.AvroBinary, body)
		if err != nil {
			return
		}
		checkDecoded(t, s, ev, contracts[s])
	})
}

func FuzzDecodeJSONAvro(f *testing.F) {
	schemas := fuzzSchemas(f)
	contracts := fuzzContracts(f)
	f.Add(uint8(0), []byte(clickstreamJSON))
	f.Add(uint8(1), []byte(`{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[0,1]},"consistentValue":"session-1","uniqueIdentifier":{"string":"u\u00e9"}}`))
	f.Add(uint8(3), []byte(everyTypeRendered))
	f.Add(uint8(4), []byte(`{`+metaJSON+`,"u":{"long":5},"inner":{"Inner":{"x":"y"}},"fl":"NaN","by":"\u00ff"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		s := schemas[int(which)%len(schemas)]
		ev, err := s.Decode(engine.JSON, body)
		if err != nil {
			return
		}
		checkDecoded(t, s, ev, contracts[s])
	})
}

func FuzzDecodeJSONSchema(f *testing.F) {
	cat := loadCatalogue(f)
	generic, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(nil)))
	if err != nil {
		f.Fatal(err)
	}
	schemas := []*engine.Schema{cat.schema(f, "strmlocal/sensor-json/1.0.0"), generic}
	contracts := map[*engine.Schema]*engine.CompiledContract{schemas[0]: cat.contract(f, "strmlocal/sensor-json/1.0.0")}
	f.Add(uint8(0), []byte(sensorJSON))
	f.Add(uint8(1), []byte(`{"strmMeta":{"eventContractRef":"t","consentLevels":[1,2],"nonce":null},"id":"x","customer":{"email":"a@b"},"count":1e3}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		s := schemas[int(which)%len(schemas)]
		ev, err := s.Decode(engine.JSON, body)
		if err != nil {
			return
		}
		checkDecoded(t, s, ev, contracts[s])
	})
}
