package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// ErrConflict is matched by the error of Apply for a document that changes
// an immutable thing (a ConflictError): nothing was written.
var ErrConflict = errors.New("app: sandbox conflict")

// Action is what applying a document does to one of its items.
type Action string

// Actions of a plan.
const (
	ActionCreate    Action = "create"
	ActionUnchanged Action = "unchanged"
	// ActionUpdate replaces a mutable thing: a data connector's config, a
	// job's connector or config.
	ActionUpdate Action = "update"
	// ActionConflict: an immutable thing differs from what the server has.
	ActionConflict Action = "conflict"
)

// Kinds of plan item.
const (
	ItemSchema    = "schema"
	ItemContract  = "event-contract"
	ItemStream    = "stream"
	ItemConnector = "data-connector"
	ItemJob       = "job"
)

// PlanItem is one item of a document and what applying does to it.
type PlanItem struct {
	// Kind is one of the Item* constants.
	Kind string
	// Name is the ref of a schema or an event contract, else the name.
	Name   string
	Action Action
	// Field names what differs, for updates and conflicts: "config",
	// "levels, maskSeed".
	Field string
	// Reason says why a conflict cannot be applied.
	Reason string
}

// String is the item as a plan line: "schema acme/order/1.0.0 unchanged".
func (i PlanItem) String() string {
	s := i.Kind + " " + i.Name + " " + string(i.Action)
	if i.Field != "" {
		s += " (" + i.Field + ")"
	}
	return s
}

// Conflict describes a conflict item: "stream orders-2: levels: …".
func (i PlanItem) Conflict() string {
	return fmt.Sprintf("%s %s: %s: %s", i.Kind, i.Name, i.Field, i.Reason)
}

// CreatedStream is a stream Apply created, with its client secret: the
// only time it is available.
type CreatedStream struct {
	Stream *catalog.Stream
	Secret string
}

// Plan is what Apply found, and did.
type Plan struct {
	// Items in dependency order: schemas, event contracts, source streams,
	// derived streams, data connectors, jobs; within a kind in the order of
	// the document.
	Items []PlanItem
	// Created are the streams created (none for a dry run).
	Created []CreatedStream
	// Applied is whether the plan was carried out.
	Applied bool
}

// Conflicts are the conflict items.
func (p Plan) Conflicts() []PlanItem {
	var out []PlanItem
	for _, i := range p.Items {
		if i.Action == ActionConflict {
			out = append(out, i)
		}
	}
	return out
}

// Summary counts the items by action: "2 created, 1 updated, 5 unchanged",
// "nothing to change", or for a plan not applied "2 to create, 5
// unchanged".
func (p Plan) Summary() string {
	n := map[Action]int{}
	for _, i := range p.Items {
		n[i.Action]++
	}
	if n[ActionCreate]+n[ActionUpdate]+n[ActionConflict] == 0 {
		return "nothing to change"
	}
	var parts []string
	add := func(a Action, done, todo string) {
		if n[a] == 0 {
			return
		}
		w := done
		if !p.Applied {
			w = todo
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[a], w))
	}
	add(ActionCreate, "created", "to create")
	add(ActionUpdate, "updated", "to update")
	add(ActionUnchanged, "unchanged", "unchanged")
	if c := n[ActionConflict]; c == 1 {
		parts = append(parts, "1 conflict")
	} else if c > 1 {
		parts = append(parts, strconv.Itoa(c)+" conflicts")
	}
	return strings.Join(parts, ", ")
}

// ConflictError is the error of Apply for a plan with conflicts; it
// matches ErrConflict.
type ConflictError struct{ Plan Plan }

func (e *ConflictError) Error() string {
	c := e.Plan.Conflicts()
	msgs := make([]string, len(c))
	for i, item := range c {
		msgs[i] = item.Conflict()
	}
	what := "1 conflict"
	if len(c) != 1 {
		what = strconv.Itoa(len(c)) + " conflicts"
	}
	return what + ", nothing was applied: " + strings.Join(msgs, "; ")
}

// Unwrap makes the error match ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Apply plans doc against the server (every item: create, unchanged,
// update or conflict) and, unless dryRun or the plan has a conflict,
// applies it in dependency order through the same paths as the single
// commands. A document that cannot be applied (a missing field, a bad
// definition, a reference to a stream that is nowhere) is an ErrInvalid
// error naming the item by its path (streams[1].derivedFrom: …); a plan
// with conflicts returns a *ConflictError with the plan and writes
// nothing. Applying the same document twice changes nothing.
//
// The plan checks everything the writes check, so a write fails only if
// the store does (or a concurrent single command took a name first); what
// was written before stays, and applying again carries on from there.
func (a *App) Apply(ctx context.Context, doc *Sandbox, dryRun bool) (Plan, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	p, err := a.plan(doc)
	if err != nil {
		return Plan{}, err
	}
	if len(p.Conflicts()) > 0 {
		return p.Plan, &ConflictError{p.Plan}
	}
	if dryRun {
		return p.Plan, nil
	}
	for _, step := range p.steps {
		if err := ctx.Err(); err != nil {
			return p.Plan, err
		}
		if err := step(&p.Plan); err != nil {
			return p.Plan, err
		}
	}
	p.Applied = true
	return p.Plan, nil
}

// planned is a plan with the writes that carry it out.
type planned struct {
	Plan
	steps []func(*Plan) error
}

// planner holds what planning a document learned so far.
type planner struct {
	a *App
	planned
	schemas   map[string]*engine.Schema           // of the document, new
	contracts map[string]*engine.CompiledContract // of the document, new
	streams   map[string]*catalog.Stream          // of the document, new (no credentials)
	conns     map[string]string                   // of the document: name → kind
}

func (a *App) plan(doc *Sandbox) (*planned, error) {
	p := &planner{a: a, schemas: map[string]*engine.Schema{}, contracts: map[string]*engine.CompiledContract{},
		streams: map[string]*catalog.Stream{}, conns: map[string]string{}}
	for _, step := range []func(*Sandbox) error{p.planSchemas, p.planContracts, p.planStreams, p.planConnectors, p.planJobs} {
		if err := step(doc); err != nil {
			return nil, err
		}
	}
	return &p.planned, nil
}

func (p *planner) add(item PlanItem, step func(*Plan) error) {
	p.Items = append(p.Items, item)
	if step != nil {
		p.steps = append(p.steps, step)
	}
}

// at puts the path of a document item before each line of err's message:
// "config.bucket: …" becomes "dataConnectors[0].config.bucket: …". The
// error is ErrInvalid whatever it was: the document is at fault.
func at(path string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = path + sep(l) + l
	}
	return &kindError{ErrInvalid, strings.Join(lines, "\n")}
}

// sep is "." before a message that starts with a field name ("config.x: ",
// "levels: "), else ": ".
func sep(msg string) string {
	head, _, ok := strings.Cut(msg, ": ")
	if ok && head != "" && !strings.ContainsAny(head, " '\"") {
		return "."
	}
	return ": "
}

// dup refuses a key the document has twice.
func dup(seen map[string]string, key, path, field string) error {
	if first, ok := seen[key]; ok {
		return invalidf("%s.%s: %q appears twice (also %s)", path, field, key, first)
	}
	seen[key] = path
	return nil
}

// text is a definition given as a JSON string or as the JSON itself.
func text(raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}

func absent(raw json.RawMessage) bool {
	r := bytes.TrimSpace(raw)
	return len(r) == 0 || string(r) == "null" || string(r) == `""`
}

const immutableVersion = "differs from the registered version; registered versions are immutable: register the change as a new version"

func (p *planner) planSchemas(doc *Sandbox) error {
	seen := map[string]string{}
	for i, s := range doc.Schemas {
		path := fmt.Sprintf("schemas[%d]", i)
		if s.Ref == "" {
			return invalidf("%s.ref: required: give handle/name/version", path)
		}
		ref, err := engine.ParseRef(s.Ref)
		if err != nil {
			return at(path+".ref", err)
		}
		if err := dup(seen, ref.String(), path, "ref"); err != nil {
			return err
		}
		if absent(s.Definition) {
			return invalidf("%s.definition: required: give the schema's text (definition) or its file (definitionFile)", path)
		}
		def := text(s.Definition)
		typ, err := schemaTypeOf(s.Type, def)
		if err != nil {
			return invalidf("%s.type: %v", path, err)
		}
		compiled, err := engine.CompileSchema(ref, typ, def)
		if err != nil {
			return at(path+".definition", err)
		}
		item := PlanItem{Kind: ItemSchema, Name: ref.String(), Action: ActionUnchanged}
		if old, err := p.a.reg.Schema(ref.String()); err == nil {
			switch {
			case old.Type() != typ:
				item.Action, item.Field, item.Reason = ActionConflict, "type", fmt.Sprintf("is %s, registered as %s; registered versions are immutable: register the change as a new version", typeName(typ), typeName(old.Type()))
			case old.Fingerprint() != compiled.Fingerprint():
				item.Action, item.Field, item.Reason = ActionConflict, "definition", immutableVersion
			}
			p.add(item, nil)
			continue
		}
		p.schemas[ref.String()] = compiled
		item.Action = ActionCreate
		p.add(item, func(*Plan) error {
			_, _, err := p.a.reg.CreateSchema(ref, typ, def, false)
			return err
		})
	}
	return nil
}

// schemaTypeOf is the type named, or the one of the definition as create
// schema picks it: JSON Schema with a top-level "$schema", else Avro.
func schemaTypeOf(name string, def []byte) (engine.SchemaType, error) {
	if name == "" {
		var top map[string]json.RawMessage
		if json.Unmarshal(def, &top) == nil && top["$schema"] != nil {
			return engine.JSONSchema, nil
		}
		return engine.Avro, nil
	}
	t, err := engine.ParseSchemaType(name)
	if err != nil {
		return 0, fmt.Errorf("unknown schema type %q: use avro or json-schema", name)
	}
	return t, nil
}

func typeName(t engine.SchemaType) string {
	if t == engine.JSONSchema {
		return "json-schema"
	}
	return "avro"
}

func (p *planner) schema(ref string) (*engine.Schema, bool) {
	if s, ok := p.schemas[ref]; ok {
		return s, true
	}
	if s, err := p.a.reg.Schema(ref); err == nil {
		return s.Schema, true
	}
	return nil, false
}

func (p *planner) planContracts(doc *Sandbox) error {
	seen := map[string]string{}
	for i, c := range doc.EventContracts {
		path := fmt.Sprintf("eventContracts[%d]", i)
		if c.Ref == "" {
			return invalidf("%s.ref: required: give handle/name/version", path)
		}
		ref, err := engine.ParseRef(c.Ref)
		if err != nil {
			return at(path+".ref", err)
		}
		if err := dup(seen, ref.String(), path, "ref"); err != nil {
			return err
		}
		if c.SchemaRef == "" {
			return invalidf("%s.schemaRef: required: give the ref of the schema whose events it governs", path)
		}
		sref, err := engine.ParseRef(c.SchemaRef)
		if err != nil {
			return at(path+".schemaRef", err)
		}
		schema, ok := p.schema(sref.String())
		if !ok {
			return invalidf("%s.schemaRef: schema %s is not in the document or on the server", path, sref)
		}
		if absent(c.Definition) {
			return invalidf("%s.definition: required: give keyField, piiFields, validations and dataSubjectField (definition) or a file with them (definitionFile)", path)
		}
		def, err := engine.ParseContractDefinition(text(c.Definition))
		if err != nil {
			return at(path+".definition", err)
		}
		def.Ref, def.SchemaRef = ref, sref
		compiled, err := engine.CompileContract(def, schema)
		if err != nil {
			return at(path+".definition", err)
		}
		item := PlanItem{Kind: ItemContract, Name: ref.String(), Action: ActionUnchanged}
		if old, err := p.a.reg.Contract(ref.String()); err == nil {
			if diff := contractDiff(old.Contract(), compiled.Contract()); diff != "" {
				item.Action, item.Field, item.Reason = ActionConflict, diff, immutableVersion
			}
			p.add(item, nil)
			continue
		}
		p.contracts[ref.String()] = compiled
		item.Action = ActionCreate
		contract := compiled.Contract()
		p.add(item, func(*Plan) error {
			_, _, err := p.a.reg.CreateContract(contract, false)
			return err
		})
	}
	return nil
}

// contractDiff names the fields in which two contracts differ, "" for
// none; an absent and an empty list or map are the same.
func contractDiff(a, b engine.Contract) string {
	var d []string
	if a.SchemaRef != b.SchemaRef {
		d = append(d, "schemaRef")
	}
	if a.KeyField != b.KeyField {
		d = append(d, "keyField")
	}
	if !(len(a.PIIFields) == 0 && len(b.PIIFields) == 0) && !maps.Equal(a.PIIFields, b.PIIFields) {
		d = append(d, "piiFields")
	}
	if !(len(a.Validations) == 0 && len(b.Validations) == 0) && !reflect.DeepEqual(a.Validations, b.Validations) {
		d = append(d, "validations")
	}
	if a.DataSubjectField != b.DataSubjectField {
		d = append(d, "dataSubjectField")
	}
	return strings.Join(d, ", ")
}

// contracts is the contract set a derived stream of the document is
// checked against: the registered contracts and the document's new ones.
func (p *planner) contractSet() contractSet {
	reg := p.a.registered()
	return contractSet{
		get: func(ref string) (*engine.CompiledContract, bool) {
			if c, ok := p.contracts[ref]; ok {
				return c, true
			}
			return reg.get(ref)
		},
		all: func() []*engine.CompiledContract {
			return append(reg.all(), slices.Collect(maps.Values(p.contracts))...)
		},
	}
}

// streamFixed is why a stream's settings cannot change.
const streamFixed = "differs from the existing stream's; a stream's settings are fixed when it is created: delete it (strmlocal delete stream NAME) and apply again"

func (p *planner) planStreams(doc *Sandbox) error {
	seen, clients := map[string]string{}, map[string]string{}
	for i, s := range doc.Streams {
		path := fmt.Sprintf("streams[%d]", i)
		if s.Name == "" {
			return invalidf("%s.name: required", path)
		}
		if err := catalog.ValidateName(s.Name); err != nil {
			return at(path+".name", err)
		}
		if err := dup(seen, s.Name, path, "name"); err != nil {
			return err
		}
		if c := s.Credentials; c != nil {
			if err := catalog.ValidateCredentials(c.ClientID, c.ClientSecret); err != nil {
				return at(path, err)
			}
			if err := dup(clients, c.ClientID, path, "credentials.clientId"); err != nil {
				return err
			}
			for _, st := range p.a.streams.List() {
				if st.ClientID == c.ClientID && st.Name != s.Name {
					return invalidf("%s.credentials.clientId: stream %q on the server has this client id already; client ids are unique", path, st.Name)
				}
			}
		}
	}
	// Source streams first: derived ones read them.
	for _, derived := range []bool{false, true} {
		for i, s := range doc.Streams {
			if (s.DerivedFrom != "") == derived {
				if err := p.planStream(doc, fmt.Sprintf("streams[%d]", i), s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p *planner) planStream(doc *Sandbox, path string, s SandboxStream) error {
	n := catalog.NewStream{Name: s.Name, Description: s.Description, Tags: s.Tags, DerivedFrom: s.DerivedFrom}
	if c := s.Credentials; c != nil {
		n.ClientID, n.ClientSecret = c.ClientID, c.ClientSecret
	}
	for _, tag := range s.Tags {
		if tag == "" || strings.ContainsAny(tag, ",\n") {
			return invalidf("%s.tags: invalid tag %q: tags must be non-empty and hold no comma or newline", path, tag)
		}
	}
	if s.DerivedFrom == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"consentType", s.ConsentType != ""}, {"levels", len(s.Levels) > 0}, {"maskedFields", len(s.MaskedFields) > 0},
			{"maskSeed", s.MaskSeed != ""}, {"emitFilter", s.EmitFilter != ""}} {
			if f.set {
				return invalidf("%s.%s: is for derived streams: add derivedFrom, the source stream", path, f.name)
			}
		}
	} else {
		if err := p.checkSource(doc, path, s.DerivedFrom); err != nil {
			return err
		}
		v := engine.View{Type: engine.Cumulative, Levels: s.Levels, Seed: s.MaskSeed}
		if s.ConsentType != "" {
			t, err := engine.ParseConsentType(s.ConsentType)
			if err != nil {
				return invalidf("%s.consentType: unknown consent type %q: use cumulative or granular", path, s.ConsentType)
			}
			v.Type = t
		}
		if len(s.MaskedFields) > 0 {
			v.Masked = s.MaskedFields
		}
		if s.EmitFilter != "" {
			f, err := engine.ParseEmitFilter(s.EmitFilter)
			if err != nil {
				return at(path, err)
			}
			v.Emit = &f
		}
		if err := v.Validate(); err != nil {
			return at(path, err)
		}
		n.View = v
		cs := p.contractSet()
		if err := checkMasked(n, cs); err != nil {
			return at(path, err)
		}
		if err := checkEmitFilter(v, cs); err != nil {
			return at(path, err)
		}
	}
	item := PlanItem{Kind: ItemStream, Name: s.Name, Action: ActionUnchanged}
	if old, err := p.a.streams.Get(s.Name); err == nil {
		if diff := streamDiff(old, n); len(diff) > 0 {
			item.Action, item.Field, item.Reason = ActionConflict, strings.Join(diff, ", "), streamFixed
			if diff[0] == "credentials" && len(diff) == 1 {
				item.Reason = "differ from the existing stream's (compared by hash); credentials are fixed when a stream is created: delete it (strmlocal delete stream NAME) and apply again to pin others"
			}
		}
		p.add(item, nil)
		return nil
	}
	p.streams[s.Name] = &catalog.Stream{Name: s.Name, DerivedFrom: s.DerivedFrom}
	item.Action = ActionCreate
	p.add(item, func(plan *Plan) error {
		st, secret, err := p.a.CreateStream(n)
		if err != nil {
			return fmt.Errorf("stream %s: %w", n.Name, err)
		}
		plan.Created = append(plan.Created, CreatedStream{Stream: st, Secret: secret})
		return nil
	})
	return nil
}

// checkSource checks the derivedFrom of a derived stream: a source stream
// of the document or of the server.
func (p *planner) checkSource(doc *Sandbox, path, name string) error {
	for _, s := range doc.Streams {
		if s.Name == name {
			if s.DerivedFrom != "" {
				return invalidf("%s.derivedFrom: stream %q is itself derived from %q; derive from the source stream %q instead", path, name, s.DerivedFrom, s.DerivedFrom)
			}
			return nil
		}
	}
	st, err := p.a.streams.Get(name)
	if err != nil {
		return invalidf("%s.derivedFrom: stream %q is not in the document or on the server", path, name)
	}
	if st.IsDerived() {
		return invalidf("%s.derivedFrom: stream %q is itself derived from %q; derive from the source stream %q instead", path, name, st.DerivedFrom, st.DerivedFrom)
	}
	return nil
}

// streamDiff names the fields in which a stream of the document differs
// from the existing one. A mask seed left out matches any seed.
func streamDiff(old *catalog.Stream, n catalog.NewStream) []string {
	var d []string
	diff := func(field string, differs bool) {
		if differs {
			d = append(d, field)
		}
	}
	diff("description", old.Description != n.Description)
	diff("tags", !slices.Equal(old.Tags, n.Tags))
	diff("derivedFrom", old.DerivedFrom != n.DerivedFrom)
	if old.IsDerived() && n.DerivedFrom != "" {
		v := n.View
		diff("consentType", old.ConsentType != v.Type.String())
		diff("levels", !slices.Equal(sortedLevels(old.Levels), sortedLevels(v.Levels)))
		diff("maskedFields", !sameMasked(old.Masked, v.Masked))
		diff("maskSeed", v.Seed != "" && v.Seed != old.MaskSeed)
		var was, is string
		if old.EmitFilter != nil {
			was = old.EmitFilter.String()
		}
		if v.Emit != nil {
			is = v.Emit.String()
		}
		diff("emitFilter", was != is)
	}
	if n.ClientID != "" {
		diff("credentials", old.ClientID != n.ClientID || !old.HasSecret(n.ClientSecret))
	}
	return d
}

func sortedLevels(l []int32) []int32 { return slices.Sorted(slices.Values(l)) }

func sameMasked(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for ref, fa := range a {
		fb, ok := b[ref]
		if !ok || !slices.Equal(slices.Sorted(slices.Values(fa)), slices.Sorted(slices.Values(fb))) {
			return false
		}
	}
	return true
}

// stream is a stream of the document (new) or of the server.
func (p *planner) stream(name string) (*catalog.Stream, bool) {
	if st, ok := p.streams[name]; ok {
		return st, true
	}
	st, err := p.a.streams.Get(name)
	return st, err == nil
}

// keepSecret is what a secret field of a connector shows, and what keeps
// the stored secret in a document.
const keepSecret = "***"

func (p *planner) planConnectors(doc *Sandbox) error {
	seen := map[string]string{}
	for i, c := range doc.DataConnectors {
		path := fmt.Sprintf("dataConnectors[%d]", i)
		if c.Name == "" {
			return invalidf("%s.name: required", path)
		}
		if err := dup(seen, c.Name, path, "name"); err != nil {
			return err
		}
		if c.Kind == "" {
			return invalidf("%s.kind: required (kinds: %s)", path, kindNames(connectorKindsSorted))
		}
		k, err := connectorKindOf(c.Kind)
		if err != nil {
			return at(path, err)
		}
		config := json.RawMessage(`{}`)
		if !absent(c.Config) {
			config = c.Config
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(config, &fields) != nil || fields == nil {
			return invalidf("%s.config: must be an object: the config of a %s data connector", path, c.Kind)
		}
		old, err := p.a.jobs.Connector(c.Name)
		exists := err == nil
		var stored map[string]json.RawMessage // the old config, secrets included
		if exists && old.Kind == c.Kind {
			if stored, err = p.a.connectorConfig(old); err != nil {
				return err
			}
		}
		for _, f := range k.Secrets {
			var s string
			if json.Unmarshal(fields[f], &s) != nil || s != keepSecret {
				continue
			}
			v, ok := stored[f]
			switch {
			case !exists:
				return invalidf("%s.config.%s: %q stands for the stored secret, and data connector %q is new: give the secret", path, f, keepSecret, c.Name)
			case !ok:
				return invalidf("%s.config.%s: %q stands for the stored secret, and data connector %q has none stored: give the secret", path, f, keepSecret, c.Name)
			}
			fields[f] = v
		}
		if config, err = json.Marshal(fields); err != nil {
			return err
		}
		n := NewConnector{Name: c.Name, Kind: c.Kind, Config: config}
		if err := p.a.ValidateConnector(n); err != nil {
			return at(path, err)
		}
		p.conns[c.Name] = c.Kind
		item := PlanItem{Kind: ItemConnector, Name: c.Name, Action: ActionCreate}
		var step func(*Plan) error
		switch {
		case !exists:
			step = func(*Plan) error { _, err := p.a.CreateConnector(n); return err }
		case old.Kind != c.Kind:
			item.Action, item.Field, item.Reason = ActionConflict, "kind", fmt.Sprintf("is %s, and the existing data connector is of kind %s; a data connector's kind is fixed: delete it (strmlocal delete data-connector NAME) and apply again", c.Kind, old.Kind)
		case !sameJSON(stored, fields):
			item.Action, item.Field = ActionUpdate, "config"
			step = func(*Plan) error { _, err := p.a.UpdateConnector(n); return err }
		default:
			item.Action = ActionUnchanged
		}
		p.add(item, step)
	}
	return nil
}

// connectorConfig is a saved connector's whole config, secrets unsealed.
func (a *App) connectorConfig(c *catalog.Connector) (map[string]json.RawMessage, error) {
	config, err := a.plainConfig(c)
	if err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(config, &m); err != nil {
		return nil, fmt.Errorf("data connector %q: stored config is corrupt", c.Name)
	}
	return m, nil
}

// sameJSON compares two JSON values by what they mean, not their layout.
func sameJSON(a, b any) bool {
	norm := func(v any) any {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		var out any
		if json.Unmarshal(raw, &out) != nil {
			return nil
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func (p *planner) planJobs(doc *Sandbox) error {
	seen := map[string]string{}
	for i, j := range doc.Jobs {
		path := fmt.Sprintf("jobs[%d]", i)
		if j.Kind == "" {
			return invalidf("%s.kind: required (kinds: %s)", path, kindNames(jobKindsSorted))
		}
		k, ok := jobKinds[j.Kind]
		if !ok {
			return invalidf("%s.kind: unknown job kind %q (kinds: %s)", path, j.Kind, kindNames(jobKindsSorted))
		}
		if j.Stream == "" {
			return invalidf("%s.stream: required: the stream the job reads", path)
		}
		st, ok := p.stream(j.Stream)
		if !ok {
			return invalidf("%s.stream: stream %q is not in the document or on the server", path, j.Stream)
		}
		if j.Connector == "" {
			return invalidf("%s.connector: required: the data connector the job writes to", path)
		}
		connKind, ok := p.conns[j.Connector]
		if !ok {
			c, err := p.a.jobs.Connector(j.Connector)
			if err != nil {
				return invalidf("%s.connector: data connector %q is not in the document or on the server", path, j.Connector)
			}
			connKind = c.Kind
		}
		n := NewJob{Name: j.Name, Kind: j.Kind, Stream: j.Stream, Connector: j.Connector, Config: j.Config}
		if absent(n.Config) {
			n.Config = json.RawMessage(`{}`)
		}
		job, err := p.a.prepareJobOn(n, k, st, connKind)
		if err != nil {
			return at(path, err)
		}
		n.Name = job.Name
		if err := dup(seen, job.Name, path, "name"); err != nil {
			return err
		}
		item := PlanItem{Kind: ItemJob, Name: job.Name, Action: ActionCreate}
		var step func(*Plan) error
		old, _, err := p.a.jobs.Job(job.Name)
		switch {
		case err != nil:
			step = func(*Plan) error { _, err := p.a.CreateJob(n); return err }
		case old.Kind != job.Kind || old.Stream != job.Stream:
			var d []string
			if old.Kind != job.Kind {
				d = append(d, "kind")
			}
			if old.Stream != job.Stream {
				d = append(d, "stream")
			}
			item.Action, item.Field = ActionConflict, strings.Join(d, ", ")
			item.Reason = fmt.Sprintf("the existing job is a %s of stream %q; a job's kind and stream are fixed: delete it (strmlocal delete job NAME) and apply again", old.Kind, old.Stream)
		default:
			var d []string
			if old.Connector != job.Connector {
				d = append(d, "connector")
			}
			if !sameJSON(old.Config, job.Config) {
				d = append(d, "config")
			}
			if len(d) == 0 {
				item.Action = ActionUnchanged
			} else {
				item.Action, item.Field = ActionUpdate, strings.Join(d, ", ")
				step = func(*Plan) error { _, err := p.a.UpdateJob(n); return err }
			}
		}
		p.add(item, step)
	}
	return nil
}

// ExportConfig returns the server as a sandbox document: the schemas and
// event contracts registered by users (not the built-in catalogue, unless
// registered differently), the streams without credentials or mask seeds,
// the data connectors with their secret fields "***", and the jobs.
// Applied to an empty server, it makes one that exports the same document.
func (a *App) ExportConfig() (*Sandbox, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	builtinSchemas, builtinContracts, err := catalog.Builtin()
	if err != nil {
		return nil, err
	}
	doc := new(Sandbox)
	for _, s := range a.reg.Schemas(catalog.SchemaFilter{}) {
		if slices.ContainsFunc(builtinSchemas, func(b *engine.Schema) bool {
			return b.Ref() == s.Ref() && b.Type() == s.Type() && b.Fingerprint() == s.Fingerprint()
		}) {
			continue
		}
		def, err := json.Marshal(s.Definition())
		if err != nil {
			return nil, err
		}
		doc.Schemas = append(doc.Schemas, SandboxSchema{Ref: s.Ref().String(), Type: typeName(s.Type()), Definition: def})
	}
	for _, c := range a.reg.Contracts(catalog.ContractFilter{}) {
		if slices.ContainsFunc(builtinContracts, func(b *engine.CompiledContract) bool {
			return b.Ref() == c.Ref() && contractDiff(b.Contract(), c.Contract()) == ""
		}) {
			continue
		}
		cc := c.Contract()
		def, err := json.Marshal(struct {
			KeyField         string              `json:"keyField,omitempty"`
			PIIFields        map[string]int      `json:"piiFields,omitempty"`
			Validations      []engine.Validation `json:"validations,omitempty"`
			DataSubjectField string              `json:"dataSubjectField,omitempty"`
		}{cc.KeyField, cc.PIIFields, cc.Validations, cc.DataSubjectField})
		if err != nil {
			return nil, err
		}
		doc.EventContracts = append(doc.EventContracts, SandboxContract{Ref: cc.Ref.String(), SchemaRef: cc.SchemaRef.String(), Definition: def})
	}
	all := a.streams.List()
	for _, derived := range []bool{false, true} {
		for _, st := range all {
			if st.IsDerived() != derived {
				continue
			}
			s := SandboxStream{Name: st.Name, Description: st.Description, Tags: st.Tags, DerivedFrom: st.DerivedFrom}
			if derived {
				s.ConsentType, s.Levels = strings.ToLower(st.ConsentType), st.Levels
				if len(st.Masked) > 0 {
					s.MaskedFields = st.Masked
				}
				if st.EmitFilter != nil {
					s.EmitFilter = st.EmitFilter.String()
				}
			}
			doc.Streams = append(doc.Streams, s)
		}
	}
	for _, c := range a.jobs.Connectors() {
		doc.DataConnectors = append(doc.DataConnectors, SandboxConnector{Name: c.Name, Kind: c.Kind, Config: MaskedConfig(c)})
	}
	for _, j := range a.jobs.Jobs() {
		doc.Jobs = append(doc.Jobs, SandboxJob{Name: j.Name, Kind: j.Kind, Stream: j.Stream, Connector: j.Connector, Config: j.Config})
	}
	return doc, nil
}
