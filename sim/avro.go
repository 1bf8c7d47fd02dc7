package sim

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
)

// strmMeta is the strmMeta record every event carries. The producer sets
// the contract ref and the consent; the server fills in the rest.
type strmMeta struct {
	EventContractRef string  `avro:"eventContractRef" json:"eventContractRef"`
	Nonce            *int32  `avro:"nonce" json:"nonce,omitempty"`
	Timestamp        *int64  `avro:"timestamp" json:"timestamp,omitempty"`
	KeyLink          *string `avro:"keyLink" json:"keyLink,omitempty"`
	BillingID        *string `avro:"billingId" json:"billingId,omitempty"`
	ConsentLevels    []int32 `avro:"consentLevels" json:"consentLevels"`
}

// avroCodec encodes one Go type against one Avro schema into reused
// storage: hamba's Writer does not allocate once its buffer has grown.
type avroCodec struct {
	schema avro.Schema
	w      *avro.Writer
}

// newAvroCodec parses a definition (in its own cache, so that schemas with
// the same full name in different refs do not clash) and checks that sample
// encodes against it, so that a definition that does not fit the generator
// fails at start, not mid-run.
func newAvroCodec(ref string, definitions map[string]string, sample any) (*avroCodec, error) {
	def, ok := definitions[ref]
	if !ok {
		return nil, fmt.Errorf("no definition of schema %s", ref)
	}
	s, err := avro.ParseWithCache(def, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", ref, err)
	}
	c := &avroCodec{schema: s, w: avro.NewWriter(nil, 512)}
	if _, err := c.encode(nil, sample); err != nil {
		return nil, fmt.Errorf("schema %s does not fit the simulator: %w", ref, err)
	}
	return c, nil
}

// encode appends the Avro binary encoding of v (a pointer to the
// generator's struct) to dst.
func (c *avroCodec) encode(dst []byte, v any) ([]byte, error) {
	c.w.Reset(nil)
	c.w.Error = nil
	c.w.WriteVal(c.schema, v)
	if c.w.Error != nil {
		return dst, c.w.Error
	}
	return append(dst, c.w.Buffer()...), nil
}

// wrongTypeJSON renders v as lenient JSON (unions unwrapped, as the server
// accepts for Avro schemas) with field replaced by a value of the wrong
// type. Only invalid events take this path, so its allocations do not
// matter; map keys are sorted by encoding/json, so the output is
// deterministic.
func wrongTypeJSON(dst []byte, v any, field string, wrong any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // keep longs (measuredAt) exact
	if err := d.Decode(&m); err != nil {
		return dst, err
	}
	m[field] = wrong
	if b, err = json.Marshal(m); err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
