package engine_test

import (
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// Benchmarks run per core: go test ./engine -run '^$' -bench . -cpu 1 -benchmem

func BenchmarkDecodeCheckAvro(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	cc := cat.contract(b, "streammachine/clickstream/1.0.0")
	body := marshal(b, s, sampleClickstream())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := s.Decode(engine.AvroBinary, body)
		if err != nil {
			b.Fatal(err)
		}
		if err := cc.Check(ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeCheckJSON(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	cc := cat.contract(b, "streammachine/clickstream/1.0.0")
	body := []byte(clickstreamJSON)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := s.Decode(engine.JSON, body)
		if err != nil {
			b.Fatal(err)
		}
		if err := cc.Check(ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeAvro(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	body := marshal(b, s, sampleClickstream())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decode(engine.AvroBinary, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	body := []byte(clickstreamJSON)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decode(engine.JSON, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	cc := cat.contract(b, "streammachine/clickstream/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cc.Check(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAvro(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.Encode(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendJSON(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkSetPII is the encryption package's access pattern: read each PII
// field and replace it.
func BenchmarkSetPII(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "streammachine/clickstream/1.0.0")
	cc := cat.contract(b, "streammachine/clickstream/1.0.0")
	ev, err := s.Decode(engine.AvroBinary, marshal(b, s, sampleClickstream()))
	if err != nil {
		b.Fatal(err)
	}
	const ct = "ATuasjJ30S4uRB64APNKNze/TH6V5NbA6gRLGjM="
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range cc.PIIFields() {
			if _, ok := ev.GetString(p.Field); ok {
				if err := ev.SetString(p.Field, ct); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkDecodeCheckJSONSchema decodes and checks a sensor event against the
// JSON Schema form; validation goes through the generic jsonschema validator.
func BenchmarkDecodeCheckJSONSchema(b *testing.B) {
	cat := loadCatalogue(b)
	s := cat.schema(b, "strmlocal/sensor-json/1.0.0")
	cc := cat.contract(b, "strmlocal/sensor-json/1.0.0")
	body := []byte(sensorJSON)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := s.Decode(engine.JSON, body)
		if err != nil {
			b.Fatal(err)
		}
		if err := cc.Check(ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
