package engine_test

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// Go types mirroring the catalogue schemas, so that test bodies are encoded
// by hamba/avro, independently of the engine's decoder.

type strmMeta struct {
	EventContractRef string  `avro:"eventContractRef"`
	Nonce            *int32  `avro:"nonce"`
	Timestamp        *int64  `avro:"timestamp"`
	KeyLink          *string `avro:"keyLink"`
	BillingID        *string `avro:"billingId"`
	ConsentLevels    []int32 `avro:"consentLevels"`
}

type customer struct {
	ID string `avro:"id"`
}

type clickstreamEvent struct {
	StrmMeta          strmMeta `avro:"strmMeta"`
	ProducerSessionID string   `avro:"producerSessionId"`
	URL               string   `avro:"url"`
	EventType         string   `avro:"eventType"`
	Referrer          string   `avro:"referrer"`
	UserAgent         string   `avro:"userAgent"`
	Conversion        int32    `avro:"conversion"`
	ABTests           []string `avro:"abTests"`
	Customer          customer `avro:"customer"`
}

type demoEvent struct {
	StrmMeta           strmMeta `avro:"strmMeta"`
	UniqueIdentifier   *string  `avro:"uniqueIdentifier"`
	ConsistentValue    string   `avro:"consistentValue"`
	SomeSensitiveValue *string  `avro:"someSensitiveValue"`
	NotSensitiveValue  *string  `avro:"notSensitiveValue"`
}

type sensorEvent struct {
	StrmMeta           strmMeta `avro:"strmMeta"`
	MachineID          string   `avro:"machineId"`
	SiteID             string   `avro:"siteId"`
	OperatorBadge      *string  `avro:"operatorBadge"`
	MeasuredAt         int64    `avro:"measuredAt"`
	TemperatureCelsius float64  `avro:"temperatureCelsius"`
	VibrationMmPerS    float64  `avro:"vibrationMmPerS"`
	RPM                int32    `avro:"rpm"`
	PowerState         string   `avro:"powerState"`
	ReadingStatus      string   `avro:"readingStatus"`
}

func ptr[T any](v T) *T { return &v }

type catalogue struct {
	schemas   map[string]*engine.Schema
	contracts map[string]*engine.CompiledContract
}

func loadCatalogue(tb testing.TB) catalogue {
	tb.Helper()
	ss, cs, err := engine.LoadCatalogue(catalog.BuiltinFS())
	if err != nil {
		tb.Fatal(err)
	}
	c := catalogue{schemas: map[string]*engine.Schema{}, contracts: map[string]*engine.CompiledContract{}}
	for _, s := range ss {
		c.schemas[s.Ref().String()] = s
	}
	for _, cc := range cs {
		c.contracts[cc.Ref().String()] = cc
	}
	return c
}

func (c catalogue) schema(tb testing.TB, ref string) *engine.Schema {
	tb.Helper()
	s, ok := c.schemas[ref]
	if !ok {
		tb.Fatalf("schema %s not in catalogue", ref)
	}
	return s
}

func (c catalogue) contract(tb testing.TB, ref string) *engine.CompiledContract {
	tb.Helper()
	cc, ok := c.contracts[ref]
	if !ok {
		tb.Fatalf("contract %s not in catalogue", ref)
	}
	return cc
}

// marshal encodes v with hamba/avro against s's definition.
func marshal(tb testing.TB, s *engine.Schema, v any) []byte {
	tb.Helper()
	sch, err := avro.ParseWithCache(s.Definition(), "", &avro.SchemaCache{})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := avro.Marshal(sch, v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func unmarshal(tb testing.TB, s *engine.Schema, data []byte, v any) {
	tb.Helper()
	sch, err := avro.ParseWithCache(s.Definition(), "", &avro.SchemaCache{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := avro.Unmarshal(sch, data, v); err != nil {
		tb.Fatal(err)
	}
}

func sampleClickstream() clickstreamEvent {
	return clickstreamEvent{
		StrmMeta: strmMeta{
			EventContractRef: "streammachine/clickstream/1.0.0",
			ConsentLevels:    []int32{0, 1},
		},
		ProducerSessionID: "session-4711",
		URL:               "https://shop.example.com/products/hiking-boots?size=43&colour=brown",
		EventType:         "product_view",
		Referrer:          "https://www.example.org/search?q=hiking+boots",
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		Conversion:        0,
		ABTests:           []string{"checkout-v2", "banner-b"},
		Customer:          customer{ID: "customer-0042"},
	}
}

const clickstreamJSON = `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","consentLevels":[0,1]},` +
	`"producerSessionId":"session-4711",` +
	`"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown",` +
	`"eventType":"product_view","referrer":"https://www.example.org/search?q=hiking+boots",` +
	`"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",` +
	`"conversion":0,"abTests":["checkout-v2","banner-b"],"customer":{"id":"customer-0042"}}`

// rejectMsg returns err's message after checking it is a *RejectError
// matching kind.
func rejectMsg(tb testing.TB, err error, kind error) string {
	tb.Helper()
	var re *engine.RejectError
	if !errors.As(err, &re) {
		tb.Fatalf("error %v (%T) is not a *RejectError", err, err)
	}
	if !errors.Is(err, kind) {
		tb.Fatalf("error %q does not match %v", err, kind)
	}
	return re.Msg
}
