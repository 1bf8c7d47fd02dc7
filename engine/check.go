package engine

import "fmt"

// Check applies the contract to a decoded event: every validation must pass
// (in contract order; a null value of a nullable field is not validated,
// since the schema allows it to be absent), the key field must be present and
// non-empty, and the event may give at most MaxConsentLevels consent levels,
// each from 0 to MaxConsentLevel. Validations run before the key-field check
// so that a contract's own rule on the key field reports in its words, as the
// platform did for the demo contract:
//
//	Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'
//
// On success the event's consent levels are sorted and deduplicated in place
// (the event is accepted as holding the set, not the list), so that what is
// stored and its record metadata agree. Failures are *RejectError matching
// ErrRejected, and leave the event as it was. Resolving
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
	if err := ev.checkConsent(); err != nil {
		return err
	}
	ev.normalizeConsent()
	return nil
}
