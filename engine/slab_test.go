package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// slabCase is one body of a batch and the serialization it is sent in.
type slabCase struct {
	schema *engine.Schema
	ser    engine.Serialization
	body   []byte
}

// slabBatch is 300 events of three schemas, two serializations and
// varying sizes (a growing abTests list), with a rejected one every 7th.
func slabBatch(t testing.TB, cat catalogue) []slabCase {
	click, sensor := cat.schema(t, "streammachine/clickstream/1.0.0"), cat.schema(t, "strmlocal/sensor-json/1.0.0")
	var out []slabCase
	for i := range 300 {
		switch {
		case i%7 == 3:
			out = append(out, slabCase{click, engine.JSON, []byte(`{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0"}, "url": 5}`)})
		case i%3 == 0:
			ev := sampleClickstream()
			ev.ProducerSessionID = fmt.Sprintf("session-%d", i)
			for j := range i % 40 {
				ev.ABTests = append(ev.ABTests, fmt.Sprintf("test-%d", j))
			}
			out = append(out, slabCase{click, engine.AvroBinary, marshal(t, click, ev)})
		case i%3 == 1:
			out = append(out, slabCase{click, engine.JSON, []byte(strings.Replace(clickstreamJSON, "session-4711", fmt.Sprintf("session-%d", i), 1))})
		default:
			out = append(out, slabCase{sensor, engine.JSON, []byte(strings.Replace(sensorJSON, "MCH-00042", fmt.Sprintf("MCH-%05d", i), 1))})
		}
	}
	return out
}

// Events decoded into one slab are the events decoded each on its own,
// also after each is changed as ingest changes it (strmMeta's nonce,
// timestamp and key link: the JSON Schema events have no key link, so
// setting it adds a value): no event's values run into another's, and a
// rejected body leaves nothing behind. The second round decodes into the
// memory the first released.
func TestSlabEventsStayApart(t *testing.T) {
	cat := loadCatalogue(t)
	batch := slabBatch(t, cat)
	for round := range 2 {
		slab := new(engine.Slab)
		checkSlab(t, cat, batch, slab)
		slab.Release()
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func checkSlab(t *testing.T, cat catalogue, batch []slabCase, slab *engine.Slab) {
	contracts := func(ref string) (*engine.CompiledContract, error) { return cat.contract(t, ref), nil }
	evs := make([]*engine.Event, len(batch))
	for i, c := range batch {
		ev, _, err := engine.ValidateInto(slab, c.schema, c.ser, c.body, 0, contracts)
		if (err != nil) != (i%7 == 3) {
			t.Fatalf("event %d: %v", i, err)
		}
		evs[i] = ev
	}
	for i, ev := range evs {
		if ev == nil {
			continue
		}
		ev.SetNonce(int32(i))
		ev.SetTimestamp(int64(1000 + i))
		if err := ev.SetKeyLink(fmt.Sprintf("link-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range batch {
		if evs[i] == nil {
			continue
		}
		want, _, err := engine.Validate(c.schema, c.ser, c.body, 0, contracts)
		if err != nil {
			t.Fatal(err)
		}
		want.SetNonce(int32(i))
		want.SetTimestamp(int64(1000 + i))
		if err := want.SetKeyLink(fmt.Sprintf("link-%d", i)); err != nil {
			t.Fatal(err)
		}
		if got, want := string(evs[i].AppendJSON(nil)), string(want.AppendJSON(nil)); got != want {
			t.Errorf("event %d from the slab:\n%s\nwant\n%s", i, got, want)
		}
	}
}

// BenchmarkValidateBatch: a batch of 256 clickstream events (Avro) through
// Validate, each event's values in memory of their own, or in one slab.
func BenchmarkValidateBatch(b *testing.B) {
	cat := loadCatalogue(b)
	s, cc := cat.schema(b, "streammachine/clickstream/1.0.0"), cat.contract(b, "streammachine/clickstream/1.0.0")
	contracts := func(string) (*engine.CompiledContract, error) { return cc, nil }
	body := marshal(b, s, sampleClickstream())
	for _, slabbed := range []bool{false, true} {
		b.Run(fmt.Sprintf("slab=%v", slabbed), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				var slab *engine.Slab
				if slabbed {
					slab = new(engine.Slab)
				}
				for range 256 {
					if _, _, err := engine.ValidateInto(slab, s, engine.AvroBinary, body, 0, contracts); err != nil {
						b.Fatal(err)
					}
				}
				slab.Release()
			}
		})
	}
}
