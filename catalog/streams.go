package catalog

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Stream is a registered stream.
type Stream struct {
	// ID names the stream's records in the log; never reused.
	ID log.StreamID `json:"id"`
	// UUID names the stream in exported files (<time>-stream-<uuid>---0.jsonl).
	UUID        string   `json:"uuid"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	ClientID    string   `json:"clientId"`
	// SecretHash is the SHA-256 of the client secret.
	SecretHash []byte    `json:"secretHash"`
	CreateTime time.Time `json:"createTime"`

	// Derived streams only (docs/pipeline.md, "Egress and derived streams"):
	// the source stream and the view of it.
	DerivedFrom string              `json:"derivedFrom,omitempty"`
	ConsentType string              `json:"consentType,omitempty"`
	Levels      []int32             `json:"levels,omitempty"`
	Masked      map[string][]string `json:"masked,omitempty"`
	// MaskSeed seeds the mask hash; it is never returned by the API.
	MaskSeed string `json:"maskSeed,omitempty"`
	// EmitFilter keeps only the events with one of its values at its path.
	EmitFilter *engine.EmitFilter `json:"emitFilter,omitempty"`
}

// IsDerived reports whether st is a derived stream.
func (st *Stream) IsDerived() bool { return st.DerivedFrom != "" }

// View is the consent view of a derived stream.
func (st *Stream) View() engine.View {
	t, _ := engine.ParseConsentType(st.ConsentType)
	return engine.View{Type: t, Levels: st.Levels, Masked: st.Masked, Seed: st.MaskSeed, Emit: st.EmitFilter}
}

// NewStream is what a caller supplies to create a stream. A derived stream
// sets DerivedFrom and View; its Name may be empty (default
// <source>-<levels joined by '-'>), its View.Type zero (CUMULATIVE) and its
// View.Seed empty (a random seed).
type NewStream struct {
	Name, Description string
	Tags              []string
	DerivedFrom       string
	View              engine.View
	// ClientID and ClientSecret pin the stream's credentials (a sandbox
	// file for CI, docs/sandbox.md); both empty: generated. Pinned ones
	// follow the rule of generated ones (ValidateCredentials).
	ClientID, ClientSecret string
}

var secretRE = regexp.MustCompile(`^[A-Z2-7]{52}$`)

// ValidateCredentials checks pinned credentials against the form of
// generated ones: a client id that is a UUID in its canonical lower-case
// form, and a secret of 52 characters of A-Z and 2-7 (base32).
func ValidateCredentials(clientID, secret string) error {
	if u, err := uuid.Parse(clientID); err != nil || u.String() != clientID {
		return errorf(ErrInvalid, "credentials.clientId: %q is not a UUID in canonical form (8-4-4-4-12 lower-case hex digits), as generated client ids are", clientID)
	}
	if !secretRE.MatchString(secret) {
		return errorf(ErrInvalid, "credentials.clientSecret: must be 52 characters of A-Z and 2-7 (base32, over 256 random bits), as generated secrets are")
	}
	return nil
}

// HasSecret reports whether secret is the stream's client secret (compared
// by hash: the secret itself is not stored).
func (st *Stream) HasSecret(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], st.SecretHash) == 1
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,100}$`)

// ValidateName checks a stream name against the naming rule.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return errorf(ErrInvalid, "invalid stream name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", name)
	}
	return nil
}

const (
	kindStream byte = 's'
	kindNextID byte = 'n'
)

func streamKey(name string) []byte {
	return append([]byte{store.SpaceCatalog, kindStream}, name...)
}

var nextIDKey = []byte{store.SpaceCatalog, kindNextID}

// Streams is the set of streams.
type Streams struct {
	kv  store.KV
	now func() time.Time

	mu       sync.RWMutex
	byName   map[string]*Stream // REQUIRES: mu held
	byClient map[string]*Stream // by client id; REQUIRES: mu held
	nextID   log.StreamID       // REQUIRES: mu held (write)
	gen      uint64             // bumped by every write; REQUIRES: mu held
}

// OpenStreams loads the streams stored in kv. now stamps creation times.
func OpenStreams(kv store.KV, now func() time.Time) (*Streams, error) {
	s := &Streams{kv: kv, now: now}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the streams again from the state: in the scale-out mode,
// another gateway may have created or deleted some (docs/scale-out.md).
func (s *Streams) Reload() error {
	return reload(&s.mu, &s.gen, func() (func(), error) {
		byName, byClient, nextID, err := s.load()
		return func() { s.byName, s.byClient, s.nextID = byName, byClient, nextID }, err
	})
}

func (s *Streams) load() (byName, byClient map[string]*Stream, nextID log.StreamID, err error) {
	byName, byClient, nextID = map[string]*Stream{}, map[string]*Stream{}, log.StreamID(1)
	prefix := []byte{store.SpaceCatalog, kindStream}
	err = s.kv.Scan(prefix, []byte{store.SpaceCatalog, kindStream + 1}, func(k, v []byte) error {
		st := new(Stream)
		if err := json.Unmarshal(v, st); err != nil {
			return fmt.Errorf("catalog: stream %q is corrupt: %w", k[2:], err)
		}
		if st.UUID == "" {
			// Created before streams had one: derive it, so it is the same
			// at every start.
			st.UUID = uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "strmlocal:stream:%d:%s:%d", st.ID, st.Name, st.CreateTime.UnixNano())).String()
		}
		byName[st.Name] = st
		byClient[st.ClientID] = st
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	v, err := s.kv.Get(nextIDKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, nil, 0, err
	default:
		nextID = log.StreamID(binary.BigEndian.Uint64(v))
	}
	return byName, byClient, nextID, nil
}

// reload reads a part of the catalogue again (load, called with mu held
// shared, or held) and puts what it read in place (the func load returns,
// called with mu held), unless a write of this process changed the part
// between the read and the swap (writes bump gen with mu held): then it
// reads again, the third time holding mu, so that what a write just put in
// memory is never replaced by an older read.
func reload(mu *sync.RWMutex, gen *uint64, load func() (func(), error)) error {
	for try := 0; ; try++ {
		if try == 2 {
			mu.Lock()
			defer mu.Unlock()
			swap, err := load()
			if err == nil {
				swap()
			}
			return err
		}
		mu.RLock()
		g := *gen
		swap, err := load()
		mu.RUnlock()
		if err != nil {
			return err
		}
		mu.Lock()
		if *gen == g {
			swap()
			mu.Unlock()
			return nil
		}
		mu.Unlock()
	}
}

// Create registers a stream and returns it with its client secret, the only
// time the secret is available.
func (s *Streams) Create(n NewStream) (*Stream, string, error) {
	if n.DerivedFrom != "" {
		if n.View.Type == 0 {
			n.View.Type = engine.Cumulative
		}
		if err := n.View.Validate(); err != nil {
			return nil, "", err
		}
		if n.Name == "" {
			n.Name = n.DerivedFrom + "-" + joinLevels(n.View.Levels)
		}
		if n.View.Seed == "" {
			n.View.Seed = rand.Text()
		}
	}
	if err := ValidateName(n.Name); err != nil {
		return nil, "", err
	}
	for _, tag := range n.Tags {
		if tag == "" || strings.ContainsAny(tag, ",\n") {
			return nil, "", errorf(ErrInvalid, "invalid tag %q: tags must be non-empty and hold no comma or newline", tag)
		}
	}
	secret, clientID := rand.Text()+rand.Text(), uuid.NewString() // 2 × 128 bits, base32
	if n.ClientID != "" || n.ClientSecret != "" {
		if err := ValidateCredentials(n.ClientID, n.ClientSecret); err != nil {
			return nil, "", err
		}
		secret, clientID = n.ClientSecret, n.ClientID
	}
	sum := sha256.Sum256([]byte(secret))
	st := &Stream{
		UUID:        uuid.NewString(),
		Name:        n.Name,
		Description: n.Description,
		Tags:        slices.Clone(n.Tags),
		ClientID:    clientID,
		SecretHash:  sum[:],
		CreateTime:  s.now().UTC(),
	}
	if n.DerivedFrom != "" {
		st.DerivedFrom, st.ConsentType, st.Levels = n.DerivedFrom, n.View.Type.String(), slices.Clone(n.View.Levels)
		st.Masked, st.MaskSeed, st.EmitFilter = n.View.Masked, n.View.Seed, n.View.Emit
	}
	for try := 0; ; try++ {
		err := s.create(st, n.DerivedFrom)
		if !errors.Is(err, store.ErrConflict) || try > 0 {
			if err != nil {
				return nil, "", err
			}
			return st, secret, nil
		}
		// Another gateway created a stream meanwhile: look again.
		if err := s.Reload(); err != nil {
			return nil, "", err
		}
	}
}

// create checks st against the streams known and stores it under the next
// ID, expecting that no other process changed the streams meanwhile
// (store.ErrConflict if one did).
func (s *Streams) create(st *Stream, derivedFrom string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	n := struct{ Name, DerivedFrom string }{st.Name, derivedFrom}
	clientID := st.ClientID
	if _, ok := s.byName[n.Name]; ok {
		return errorf(ErrExists, "stream %q already exists", n.Name)
	}
	if other, ok := s.byClient[clientID]; ok {
		return errorf(ErrExists, "credentials.clientId: stream %q has client id %s already; client ids are unique", other.Name, clientID)
	}
	if n.DerivedFrom != "" {
		src, ok := s.byName[n.DerivedFrom]
		switch {
		case !ok:
			return errorf(ErrNotFound, "derivedFrom: source stream %q not found", n.DerivedFrom)
		case src.IsDerived():
			return errorf(ErrInvalid, "derivedFrom: %q is itself derived from %q; derive from the source stream %q instead", src.Name, src.DerivedFrom, src.DerivedFrom)
		}
	}
	st.ID = s.nextID
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b := s.kv.NewBatch()
	defer b.Close()
	b.Expect(streamKey(st.Name), nil)
	b.Expect(nextIDKey, s.storedNextID())
	b.Set(streamKey(st.Name), v)
	b.Set(nextIDKey, binary.BigEndian.AppendUint64(nil, uint64(st.ID+1)))
	if err := b.Commit(true); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return err
		}
		return fmt.Errorf("catalog: store stream %q: %w", st.Name, err)
	}
	s.nextID++
	s.byName[st.Name] = st
	s.byClient[st.ClientID] = st
	return nil
}

// storedNextID is nextID as stored: absent (1) before the first stream.
// REQUIRES: mu held.
func (s *Streams) storedNextID() []byte {
	if s.nextID == 1 {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(s.nextID))
}

func joinLevels(levels []int32) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = strconv.Itoa(int(l))
	}
	return strings.Join(parts, "-")
}

// Authenticate returns the stream whose credentials these are.
func (s *Streams) Authenticate(clientID, secret string) (*Stream, error) {
	s.mu.RLock()
	st, ok := s.byClient[clientID]
	s.mu.RUnlock()
	sum := sha256.Sum256([]byte(secret))
	if !ok || subtle.ConstantTimeCompare(sum[:], st.SecretHash) != 1 {
		return nil, errorf(ErrUnauthenticated, "invalid client credentials")
	}
	return st, nil
}

// ByClientID returns the stream whose credentials have clientID, for a
// caller that already proved it holds them (a signed access token).
func (s *Streams) ByClientID(clientID string) (*Stream, error) {
	s.mu.RLock()
	st, ok := s.byClient[clientID]
	s.mu.RUnlock()
	if !ok {
		return nil, errorf(ErrUnauthenticated, "no stream has client id %q (deleted?): get new credentials", clientID)
	}
	return st, nil
}

// Derived returns the names of the streams derived from source, sorted.
func (s *Streams) Derived(source string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.derivedLocked(source)
}

func (s *Streams) derivedLocked(source string) []string {
	var out []string
	for name, st := range s.byName {
		if st.DerivedFrom == source {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Get returns the named stream.
func (s *Streams) Get(name string) (*Stream, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.byName[name]
	if !ok {
		return nil, errorf(ErrNotFound, "stream %q not found", name)
	}
	return st, nil
}

// List returns every stream ordered by name.
func (s *Streams) List() []*Stream {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Stream, 0, len(s.byName))
	for _, st := range s.byName {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *Stream) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Delete removes the named stream and returns the names of the streams
// deleted, the named one last. A source stream with derived streams is
// refused unless recursive, which deletes those too. drop removes a source
// stream's data; it must apply also to the batch it commits, so that the
// catalogue entries and the data go in one atomic write (log.Log.Drop does).
func (s *Streams) Delete(name string, recursive bool, drop func(id log.StreamID, also func(store.Batch) error) error) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	st, ok := s.byName[name]
	if !ok {
		return nil, errorf(ErrNotFound, "stream %q not found", name)
	}
	deleted := s.derivedLocked(name)
	if len(deleted) > 0 && !recursive {
		return nil, errorf(ErrState, "stream %q has derived streams (%s); delete them first, or delete recursively (--recursive)", name, strings.Join(deleted, ", "))
	}
	deleted = append(deleted, name)
	also := func(b store.Batch) error {
		for _, n := range deleted {
			b.Delete(streamKey(n))
		}
		return nil
	}
	var err error
	if st.IsDerived() {
		b := s.kv.NewBatch()
		if err = also(b); err == nil {
			err = b.Commit(true)
		}
		b.Close()
	} else {
		err = drop(st.ID, also)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: delete stream %q: %w", name, err)
	}
	for _, n := range deleted {
		delete(s.byClient, s.byName[n].ClientID)
		delete(s.byName, n)
	}
	return deleted, nil
}
