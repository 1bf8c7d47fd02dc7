package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
)

// State is the life cycle of a schema or an event contract. Only ACTIVE
// ones accept new events.
type State uint8

// States. New registrations are Active unless registered as drafts.
const (
	Draft State = iota + 1
	Active
	Archived
)

func (s State) String() string {
	switch s {
	case Draft:
		return "DRAFT"
	case Active:
		return "ACTIVE"
	case Archived:
		return "ARCHIVED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Schema is a registered schema: the compiled form and its registry state.
type Schema struct {
	*engine.Schema
	State      State
	CreateTime time.Time
}

// Contract is a registered event contract.
type Contract struct {
	*engine.CompiledContract
	State      State
	CreateTime time.Time
}

// Stored forms. Definitions are recompiled on open: compiled plans are not
// persisted, so a newer engine never reads an older plan.
type storedSchema struct {
	Type       string    `json:"type"`
	Definition string    `json:"definition"`
	State      State     `json:"state"`
	CreateTime time.Time `json:"createTime"`
}

type storedContract struct {
	SchemaRef        string              `json:"schemaRef"`
	KeyField         string              `json:"keyField"`
	PIIFields        map[string]int      `json:"piiFields,omitempty"`
	Validations      []engine.Validation `json:"validations,omitempty"`
	DataSubjectField string              `json:"dataSubjectField,omitempty"`
	State            State               `json:"state"`
	CreateTime       time.Time           `json:"createTime"`
}

const (
	kindSchema   byte = 'S'
	kindContract byte = 'C'
)

func registryKey(kind byte, ref engine.Ref) []byte {
	return append([]byte{store.SpaceCatalog, kind}, ref.String()...)
}

// Registry holds the schemas and event contracts. Reads are served from
// memory; every change is written (synced) before it becomes visible.
type Registry struct {
	kv  store.KV
	now func() time.Time

	mu        sync.RWMutex
	schemas   map[string]*Schema   // by ref; REQUIRES: mu held
	contracts map[string]*Contract // by ref; REQUIRES: mu held
	gen       uint64               // bumped by every write; REQUIRES: mu held
}

// OpenRegistry loads and compiles the schemas and contracts stored in kv.
func OpenRegistry(kv store.KV, now func() time.Time) (*Registry, error) {
	r := &Registry{kv: kv, now: now, schemas: map[string]*Schema{}, contracts: map[string]*Contract{}}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the schemas and contracts again from the state (another
// gateway of the scale-out mode may have changed some), compiling only the
// entries that changed: a registered version's definition never does.
func (r *Registry) Reload() error {
	return reload(&r.mu, &r.gen, func() (func(), error) {
		schemas, contracts, err := r.load()
		return func() { r.schemas, r.contracts = schemas, contracts }, err
	})
}

// load reads the registry from the state, reusing what is compiled.
// REQUIRES: mu held, shared or not.
func (r *Registry) load() (map[string]*Schema, map[string]*Contract, error) {
	oldSchemas, oldContracts := r.schemas, r.contracts
	schemas, contracts := map[string]*Schema{}, map[string]*Contract{}
	err := scan(r.kv, kindSchema, func(ref engine.Ref, v []byte) error {
		var st storedSchema
		if err := json.Unmarshal(v, &st); err != nil {
			return err
		}
		if old := oldSchemas[ref.String()]; old != nil && old.Definition() == st.Definition && old.Type().String() == st.Type {
			schemas[ref.String()] = &Schema{Schema: old.Schema, State: st.State, CreateTime: st.CreateTime}
			return nil
		}
		typ, err := engine.ParseSchemaType(st.Type)
		if err != nil {
			return err
		}
		s, err := engine.CompileSchema(ref, typ, []byte(st.Definition))
		if err != nil {
			return err
		}
		schemas[ref.String()] = &Schema{Schema: s, State: st.State, CreateTime: st.CreateTime}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	err = scan(r.kv, kindContract, func(ref engine.Ref, v []byte) error {
		var st storedContract
		if err := json.Unmarshal(v, &st); err != nil {
			return err
		}
		s, ok := schemas[st.SchemaRef]
		if !ok {
			return fmt.Errorf("its schema %s is missing", st.SchemaRef)
		}
		if old := oldContracts[ref.String()]; old != nil && old.CreateTime.Equal(st.CreateTime) && oldSchemas[st.SchemaRef] != nil && oldSchemas[st.SchemaRef].Schema == s.Schema {
			contracts[ref.String()] = &Contract{CompiledContract: old.CompiledContract, State: st.State, CreateTime: st.CreateTime}
			return nil
		}
		cc, err := engine.CompileContract(engine.Contract{
			Ref: ref, SchemaRef: s.Ref(), KeyField: st.KeyField, PIIFields: st.PIIFields,
			Validations: st.Validations, DataSubjectField: st.DataSubjectField,
		}, s.Schema)
		if err != nil {
			return err
		}
		contracts[ref.String()] = &Contract{CompiledContract: cc, State: st.State, CreateTime: st.CreateTime}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return schemas, contracts, nil
}

// scan calls fn for every stored entry of one kind.
func scan(kv store.Reader, kind byte, fn func(engine.Ref, []byte) error) error {
	p := []byte{store.SpaceCatalog, kind}
	return kv.Scan(p, store.PrefixEnd(p), func(k, v []byte) error {
		name := string(k[2:])
		ref, err := engine.ParseRef(name)
		if err == nil {
			err = fn(ref, v)
		}
		if err != nil {
			return fmt.Errorf("catalog: stored %s %q is corrupt: %w", kindName(kind), name, err)
		}
		return nil
	})
}

func kindName(kind byte) string {
	if kind == kindSchema {
		return "schema"
	}
	return "event contract"
}

// put stores an entry; a new one (created) only if no other gateway stored
// it meanwhile (store.ErrConflict).
func (r *Registry) put(kind byte, ref engine.Ref, v any, created bool) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b := r.kv.NewBatch()
	defer b.Close()
	k := registryKey(kind, ref)
	if created {
		b.Expect(k, nil)
	}
	b.Set(k, val)
	if err := b.Commit(true); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("catalog: store %s %s: %w", kindName(kind), ref, err)
	} else if err != nil {
		return err
	}
	return nil
}

func initialState(draft bool) State {
	if draft {
		return Draft
	}
	return Active
}

// CreateSchema compiles and registers a schema. Registering the same ref
// again with a definition of the same fingerprint is a no-op that returns
// the registered schema with created false; any other definition is refused
// with ErrExists.
func (r *Registry) CreateSchema(ref engine.Ref, typ engine.SchemaType, definition []byte, draft bool) (s *Schema, created bool, err error) {
	compiled, err := engine.CompileSchema(ref, typ, definition)
	if err != nil {
		return nil, false, err
	}
	return r.addSchema(compiled, draft)
}

// addSchema is CreateSchema of a schema already compiled.
func (r *Registry) addSchema(compiled *engine.Schema, draft bool) (s *Schema, created bool, err error) {
	return retryConflict(r, func() (*Schema, bool, error) { return r.addSchemaOnce(compiled, draft) })
}

// retryConflict runs add again, once, after reading the registry again,
// when another gateway stored the same entry meanwhile.
func retryConflict[T any](r *Registry, add func() (T, bool, error)) (T, bool, error) {
	v, created, err := add()
	if errors.Is(err, store.ErrConflict) {
		if err = r.Reload(); err == nil {
			v, created, err = add()
		}
	}
	return v, created, err
}

func (r *Registry) addSchemaOnce(compiled *engine.Schema, draft bool) (s *Schema, created bool, err error) {
	key, typ := compiled.Ref().String(), compiled.Type()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	if old, ok := r.schemas[key]; ok {
		if old.Type() == typ && old.Fingerprint() == compiled.Fingerprint() {
			return old, false, nil
		}
		return nil, false, errorf(ErrExists, "schema %s is already registered with another definition; registered versions are immutable, so register the change as a new version", key)
	}
	s = &Schema{Schema: compiled, State: initialState(draft), CreateTime: r.now().UTC()}
	if err := r.putSchema(s, true); err != nil {
		return nil, false, err
	}
	r.schemas[key] = s
	return s, true, nil
}

func (r *Registry) putSchema(s *Schema, created bool) error {
	return r.put(kindSchema, s.Ref(), storedSchema{Type: s.Type().String(), Definition: s.Definition(), State: s.State, CreateTime: s.CreateTime}, created)
}

// Schema returns the schema registered under ref.
func (r *Registry) Schema(ref string) (*Schema, error) {
	r.mu.RLock()
	s, ok := r.schemas[ref]
	r.mu.RUnlock()
	if !ok {
		return nil, errorf(ErrNotFound, "schema %s not found", ref)
	}
	return s, nil
}

// SchemaFilter selects schemas; zero fields match everything.
type SchemaFilter struct {
	Handle, Name string
	State        State
	Type         engine.SchemaType
}

// Schemas returns the schemas that match f, ordered by ref.
func (r *Registry) Schemas(f SchemaFilter) []*Schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Schema
	for _, key := range slices.Sorted(maps.Keys(r.schemas)) {
		s := r.schemas[key]
		ref := s.Ref()
		if (f.Handle == "" || f.Handle == ref.Handle) && (f.Name == "" || f.Name == ref.Name) &&
			(f.State == 0 || f.State == s.State) && (f.Type == 0 || f.Type == s.Type()) {
			out = append(out, s)
		}
	}
	return out
}

// SetSchemaState activates (DRAFT or ARCHIVED → ACTIVE) or archives
// (→ ARCHIVED) a schema. Setting the state it has is a no-op.
func (r *Registry) SetSchemaState(ref string, to State) (*Schema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	s, ok := r.schemas[ref]
	if !ok {
		return nil, errorf(ErrNotFound, "schema %s not found", ref)
	}
	if err := checkTransition("schema", ref, to); err != nil || s.State == to {
		return s, err
	}
	next := *s
	next.State = to
	if err := r.putSchema(&next, false); err != nil {
		return nil, err
	}
	r.schemas[ref] = &next
	return &next, nil
}

func checkTransition(what, ref string, to State) error {
	if to != Active && to != Archived {
		return errorf(ErrInvalid, "%s %s: cannot move to state %s; activate or archive it", what, ref, to)
	}
	return nil
}

// CreateContract checks and registers an event contract. Its schema must be
// registered (in any state). Registering the same ref again with an equal
// contract is a no-op that returns created false; anything else is refused
// with ErrExists.
func (r *Registry) CreateContract(c engine.Contract, draft bool) (cc *Contract, created bool, err error) {
	if err := c.Ref.Validate(); err != nil {
		return nil, false, err
	}
	if err := c.SchemaRef.Validate(); err != nil {
		return nil, false, fmt.Errorf("schemaRef: %w", err)
	}
	s, err := r.Schema(c.SchemaRef.String())
	if err != nil {
		return nil, false, errorf(ErrNotFound, "schemaRef: schema %s not found; register it first with `strmlocal create schema`", c.SchemaRef)
	}
	compiled, err := engine.CompileContract(c, s.Schema)
	if err != nil {
		return nil, false, err
	}
	return retryConflict(r, func() (*Contract, bool, error) { return r.addContract(compiled, draft) })
}

func (r *Registry) addContract(compiled *engine.CompiledContract, draft bool) (cc *Contract, created bool, err error) {
	key := compiled.Ref().String()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	if old, ok := r.contracts[key]; ok {
		if sameContract(old.Contract(), compiled.Contract()) {
			return old, false, nil
		}
		return nil, false, errorf(ErrExists, "event contract %s is already registered with another definition; registered versions are immutable, so register the change as a new version", key)
	}
	cc = &Contract{CompiledContract: compiled, State: initialState(draft), CreateTime: r.now().UTC()}
	if err := r.putContract(cc, true); err != nil {
		return nil, false, err
	}
	r.contracts[key] = cc
	return cc, true, nil
}

// sameContract compares two contracts as definitions: an absent and an
// empty list or map are the same.
func sameContract(a, b engine.Contract) bool {
	norm := func(c engine.Contract) engine.Contract {
		if len(c.PIIFields) == 0 {
			c.PIIFields = nil
		}
		if len(c.Validations) == 0 {
			c.Validations = nil
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func (r *Registry) putContract(cc *Contract, created bool) error {
	c := cc.Contract()
	return r.put(kindContract, c.Ref, storedContract{
		SchemaRef: c.SchemaRef.String(), KeyField: c.KeyField, PIIFields: c.PIIFields,
		Validations: c.Validations, DataSubjectField: c.DataSubjectField,
		State: cc.State, CreateTime: cc.CreateTime,
	}, created)
}

// Contract returns the event contract registered under ref.
func (r *Registry) Contract(ref string) (*Contract, error) {
	r.mu.RLock()
	c, ok := r.contracts[ref]
	r.mu.RUnlock()
	if !ok {
		return nil, errorf(ErrNotFound, "event contract %s not found", ref)
	}
	return c, nil
}

// ContractFilter selects event contracts; zero fields match everything.
type ContractFilter struct {
	Handle, Name string
	State        State
	SchemaRef    string
}

// Contracts returns the event contracts that match f, ordered by ref.
func (r *Registry) Contracts(f ContractFilter) []*Contract {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Contract
	for _, key := range slices.Sorted(maps.Keys(r.contracts)) {
		c := r.contracts[key]
		ref := c.Ref()
		if (f.Handle == "" || f.Handle == ref.Handle) && (f.Name == "" || f.Name == ref.Name) &&
			(f.State == 0 || f.State == c.State) && (f.SchemaRef == "" || f.SchemaRef == c.Schema().Ref().String()) {
			out = append(out, c)
		}
	}
	return out
}

// SetContractState activates or archives an event contract, like
// SetSchemaState.
func (r *Registry) SetContractState(ref string, to State) (*Contract, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	c, ok := r.contracts[ref]
	if !ok {
		return nil, errorf(ErrNotFound, "event contract %s not found", ref)
	}
	if err := checkTransition("event contract", ref, to); err != nil || c.State == to {
		return c, err
	}
	next := *c
	next.State = to
	if err := r.putContract(&next, false); err != nil {
		return nil, err
	}
	r.contracts[ref] = &next
	return &next, nil
}

// ActiveSchema returns the compiled schema for ref if it is ACTIVE: the
// first step of ingest.
func (r *Registry) ActiveSchema(ref string) (*engine.Schema, error) {
	s, err := r.Schema(ref)
	if err != nil {
		return nil, err
	}
	if s.State != Active {
		return nil, errorf(ErrState, "schema %s is %s and accepts no events; activate it with `strmlocal activate schema %s`", ref, s.State, ref)
	}
	return s.Schema, nil
}

// ActiveContract returns the compiled event contract for ref if it is
// ACTIVE. Its errors are worded for the producer of an event that names ref
// in strmMeta.eventContractRef.
func (r *Registry) ActiveContract(ref string) (*engine.CompiledContract, error) {
	r.mu.RLock()
	c, ok := r.contracts[ref]
	r.mu.RUnlock()
	if !ok {
		return nil, errorf(ErrNotFound, "event contract %s not found", ref)
	}
	if c.State != Active {
		return nil, errorf(ErrState, "event contract %s is %s and accepts no events", ref, c.State)
	}
	return c.CompiledContract, nil
}

// RegisterCatalogue registers schemas and contracts (the built-in catalogue)
// as ACTIVE, skipping refs that are already registered with the same
// definition: their state is the user's. It returns the refs it registered,
// and joins an error for each entry it could not register (one the user
// registered differently, say) without stopping at it.
func (r *Registry) RegisterCatalogue(schemas []*engine.Schema, contracts []*engine.CompiledContract) (added []string, err error) {
	var errs []error
	// CreateSchema and CreateContract leave an entry registered with the
	// same definition as it is (created false) and refuse another one. The
	// schemas come compiled: they are not compiled again (every server
	// start registers the catalogue).
	for _, s := range schemas {
		ref := s.Ref().String()
		_, created, err := r.addSchema(s, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("catalogue schema %s: %w", ref, err))
			continue
		}
		if created {
			added = append(added, ref)
		}
	}
	for _, c := range contracts {
		ref := c.Ref().String()
		_, created, err := r.CreateContract(c.Contract(), false)
		if err != nil {
			errs = append(errs, fmt.Errorf("catalogue event contract %s: %w", ref, err))
			continue
		}
		if created {
			added = append(added, ref)
		}
	}
	return added, errors.Join(errs...)
}

// ParseState accepts DRAFT, ACTIVE and ARCHIVED in any case.
func ParseState(s string) (State, error) {
	for _, st := range []State{Draft, Active, Archived} {
		if strings.EqualFold(s, st.String()) {
			return st, nil
		}
	}
	return 0, errorf(ErrInvalid, "unknown state %q (want DRAFT, ACTIVE or ARCHIVED)", s)
}
