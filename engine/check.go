package engine

import (
	"fmt"
	"math"
	"strconv"
)

// Check applies the contract to a decoded event: every validation must pass
// (in contract order; a null value of a nullable field is not validated,
// since the schema allows it to be absent), the key field must be present and
// non-empty, and every consent level must be an int32 >= 0. Validations run before the
// key-field check so that a contract's own rule on the key field reports in
// its words, as the platform did for the demo contract:
//
//	Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'
//
// Failures are *RejectError matching ErrRejected. Resolving
// strmMeta.eventContractRef to this contract is the caller's job.
func (cc *CompiledContract) Check(ev *Event) error {
	if ev.schema != cc.schema {
		return &RejectError{Field: "strmMeta/eventContractRef", Rule: RuleSchemaRef, kind: ErrRejected,
			Msg: fmt.Sprintf("event contract '%s' is for schema '%s', not for the event's schema '%s'", cc.contract.Ref, cc.schemaRef, ev.schema.refString())}
	}
	for i := range cc.checks {
		c := &cc.checks[i]
		v, ok := ev.GetString(c.field)
		if !ok || c.c.ok(v) {
			continue
		}
		return &RejectError{Field: c.field.Path, Rule: c.v.Type, kind: ErrRejected,
			Msg: fmt.Sprintf("Field: '%s' in event with schema: '%s' with value: '%s' %s", c.field.Path, cc.schemaRef, v, c.c.failure())}
	}
	if v, ok := ev.GetString(cc.key); !ok || v == "" {
		return &RejectError{Field: cc.key.Path, Rule: RuleKeyField, kind: ErrRejected,
			Msg: fmt.Sprintf("Field: '%s' in event with schema: '%s' is the key field and must not be empty", cc.key.Path, cc.schemaRef)}
	}
	if level, bad := ev.badConsent(); bad {
		return &RejectError{Field: "strmMeta/consentLevels", Rule: RuleConsentLevels, kind: ErrRejected,
			Msg: fmt.Sprintf("Field: 'strmMeta/consentLevels' in event with schema: '%s' with value: '%s' is not a valid consent level (must be an integer from 0 to 2147483647)", cc.schemaRef, level)}
	}
	return nil
}

// badConsent returns, as written, the first consent level that is negative
// or, in a JSON Schema event, beyond int32 (Avro's type already bounds it).
// It does not allocate, unlike ConsentLevels.
func (e *Event) badConsent() (string, bool) {
	i := e.metaSlot(metaConsent)
	if i < 0 {
		return "", false
	}
	arr := e.vals[i]
	if arr.kind != vArray {
		return "", false
	}
	for j := range arr.count() {
		v := e.vals[arr.first()+j]
		if v.kind == vNumber {
			if n, ok := jsonInt(v.str); !ok || n < 0 || n > math.MaxInt32 {
				return v.str, true
			}
			continue
		}
		if n := int64(v.num); n < 0 {
			return strconv.FormatInt(n, 10), true
		}
	}
	return "", false
}
