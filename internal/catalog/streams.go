package catalog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Stream is a registered stream.
type Stream struct {
	// ID names the stream's records in the log; never reused.
	ID          log.StreamID `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Tags        []string     `json:"tags,omitempty"`
	ClientID    string       `json:"clientId"`
	// SecretHash is the SHA-256 of the client secret.
	SecretHash []byte    `json:"secretHash"`
	CreateTime time.Time `json:"createTime"`
}

// NewStream is what a caller supplies to create a stream.
type NewStream struct {
	Name, Description string
	Tags              []string
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
	db  *pebble.DB
	now func() time.Time

	mu     sync.RWMutex
	byName map[string]*Stream // REQUIRES: mu held
	nextID log.StreamID       // REQUIRES: mu held (write)
}

// OpenStreams loads the streams stored in db. now stamps creation times.
func OpenStreams(db *pebble.DB, now func() time.Time) (*Streams, error) {
	s := &Streams{db: db, now: now, byName: map[string]*Stream{}, nextID: 1}
	prefix := []byte{store.SpaceCatalog, kindStream}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: []byte{store.SpaceCatalog, kindStream + 1}})
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		st := new(Stream)
		if err := json.Unmarshal(it.Value(), st); err != nil {
			it.Close()
			return nil, fmt.Errorf("catalog: stream %q is corrupt: %w", it.Key()[2:], err)
		}
		s.byName[st.Name] = st
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	v, closer, err := db.Get(nextIDKey)
	switch {
	case err == pebble.ErrNotFound:
	case err != nil:
		return nil, err
	default:
		s.nextID = log.StreamID(binary.BigEndian.Uint64(v))
		closer.Close()
	}
	return s, nil
}

// Create registers a stream and returns it with its client secret, the only
// time the secret is available.
func (s *Streams) Create(n NewStream) (*Stream, string, error) {
	if err := ValidateName(n.Name); err != nil {
		return nil, "", err
	}
	for _, tag := range n.Tags {
		if tag == "" || strings.ContainsAny(tag, ",\n") {
			return nil, "", errorf(ErrInvalid, "invalid tag %q: tags must be non-empty and hold no comma or newline", tag)
		}
	}
	secret := rand.Text() + rand.Text() // 2 × 128 bits, base32
	sum := sha256.Sum256([]byte(secret))
	st := &Stream{
		Name:        n.Name,
		Description: n.Description,
		Tags:        slices.Clone(n.Tags),
		ClientID:    uuid.NewString(),
		SecretHash:  sum[:],
		CreateTime:  s.now().UTC(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[n.Name]; ok {
		return nil, "", errorf(ErrExists, "stream %q already exists", n.Name)
	}
	st.ID = s.nextID
	v, err := json.Marshal(st)
	if err != nil {
		return nil, "", err
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(streamKey(st.Name), v, nil)
	_ = b.Set(nextIDKey, binary.BigEndian.AppendUint64(nil, uint64(st.ID+1)), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, "", fmt.Errorf("catalog: store stream %q: %w", st.Name, err)
	}
	s.nextID++
	s.byName[st.Name] = st
	return st, secret, nil
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

// Delete removes the named stream. drop removes the stream's data; it must
// apply also to the batch it commits, so that the catalogue entry and the
// data go in one atomic write (log.Log.Drop does).
func (s *Streams) Delete(name string, drop func(id log.StreamID, also func(*pebble.Batch) error) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byName[name]
	if !ok {
		return errorf(ErrNotFound, "stream %q not found", name)
	}
	err := drop(st.ID, func(b *pebble.Batch) error { return b.Delete(streamKey(name), nil) })
	if err != nil {
		return fmt.Errorf("catalog: delete stream %q: %w", name, err)
	}
	delete(s.byName, name)
	return nil
}
