package engine

import (
	"fmt"
	"strings"
)

// Rules reported by Validate, beside those of Decode and Check.
const (
	RuleSize          = "size"          // the body is over the size limit
	RuleEventContract = "eventContract" // strmMeta.eventContractRef does not name an ACTIVE contract
)

// DefaultMaxEventBytes is the default limit on the size of one event body.
const DefaultMaxEventBytes = 1 << 20

// Contracts resolves strmMeta.eventContractRef to an ACTIVE compiled
// contract. Its error message is shown to the event's producer.
type Contracts func(ref string) (*CompiledContract, error)

// Validate runs the first three steps of ingest (docs/pipeline.md, "Ingest")
// on one body: refuse a body over maxBytes, decode it against s, resolve the
// event's contract with contracts and check the event against it. All
// failures are *RejectError; the event and its contract are returned on
// success, ready for encryption.
func Validate(s *Schema, ser Serialization, body []byte, maxBytes int, contracts Contracts) (*Event, *CompiledContract, error) {
	return ValidateInto(nil, s, ser, body, maxBytes, contracts)
}

// ValidateInto is Validate with the event decoded into slab (nil: memory
// of its own), for the events of a batch.
func ValidateInto(slab *Slab, s *Schema, ser Serialization, body []byte, maxBytes int, contracts Contracts) (*Event, *CompiledContract, error) {
	if maxBytes > 0 && len(body) > maxBytes {
		return nil, nil, &RejectError{Rule: RuleSize, kind: ErrInvalidEvent,
			Msg: fmt.Sprintf("event body is %d bytes, over the limit of %d bytes", len(body), maxBytes)}
	}
	ev, err := s.decodeInto(slab, ser, body, true)
	if err != nil {
		return nil, nil, err
	}
	ref := ev.ContractRef()
	if strings.TrimSpace(ref) == "" {
		return nil, nil, &RejectError{Field: "strmMeta/eventContractRef", Rule: RuleEventContract, kind: ErrRejected,
			Msg: fmt.Sprintf("Field: 'strmMeta/eventContractRef' in event with schema: '%s' must name an event contract", s.ref)}
	}
	cc, err := contracts(ref)
	if err != nil {
		return nil, nil, &RejectError{Field: "strmMeta/eventContractRef", Rule: RuleEventContract, kind: ErrRejected,
			Msg: fmt.Sprintf("Field: 'strmMeta/eventContractRef' in event with schema: '%s': %v", s.ref, err)}
	}
	if err := cc.Check(ev); err != nil {
		return nil, nil, err
	}
	return ev, cc, nil
}
