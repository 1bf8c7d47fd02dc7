package app

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// CreateStream creates a stream and returns it with its client secret,
// which is never available again. A derived stream's view is checked first,
// including that every contract it masks fields of exists and has them.
func (a *App) CreateStream(n catalog.NewStream) (*catalog.Stream, string, error) {
	if n.DerivedFrom != "" {
		if err := checkMasked(n, a.registered()); err != nil {
			return nil, "", err
		}
		if err := checkEmitFilter(n.View, a.registered()); err != nil {
			return nil, "", err
		}
	} else if n.View.Emit != nil {
		return nil, "", invalidf("emitFilter: emit filters are for derived streams; name the source stream to derive from")
	}
	return a.streams.Create(n)
}

// contractSet is the event contracts a derived stream's view is checked
// against: the registered ones, and for a sandbox document being planned
// also the ones it registers (sandbox.go).
type contractSet struct {
	get func(ref string) (*engine.CompiledContract, bool)
	all func() []*engine.CompiledContract
}

// registered is the set of the registered contracts.
func (a *App) registered() contractSet {
	return contractSet{
		get: func(ref string) (*engine.CompiledContract, bool) {
			c, err := a.reg.Contract(ref)
			if err != nil {
				return nil, false
			}
			return c.CompiledContract, true
		},
		all: func() []*engine.CompiledContract {
			var out []*engine.CompiledContract
			for _, c := range a.reg.Contracts(catalog.ContractFilter{}) {
				out = append(out, c.CompiledContract)
			}
			return out
		},
	}
}

// checkEmitFilter checks a derived stream's emit filter against every
// contract of cs: some contract's schema must have the field, and
// none may hold it where the stream cannot read it as it is (PII of a
// level it leaves encrypted, or masked).
func checkEmitFilter(v engine.View, cs contractSet) error {
	if v.Emit == nil {
		return nil
	}
	if len(v.Emit.Values) == 0 {
		return invalidf("emitFilter: %q has no values: give field=value[,value...]", v.Emit.Path)
	}
	if v.Type == 0 {
		v.Type = engine.Cumulative
	}
	known := false
	for _, c := range cs.all() {
		exists, err := v.CheckEmitFilter(c)
		if err != nil {
			return err
		}
		known = known || exists
	}
	if !known {
		return invalidf("emitFilter: field '%s' is in the schema of no registered event contract; filter on a field of the events the stream receives", v.Emit.Path)
	}
	return nil
}

func checkMasked(n catalog.NewStream, cs contractSet) error {
	v := n.View
	if err := v.Validate(); err != nil || len(v.Masked) == 0 {
		return err
	}
	var msgs []string
	for _, ref := range slices.Sorted(maps.Keys(v.Masked)) {
		c, ok := cs.get(ref)
		if !ok {
			msgs = append(msgs, "masked: event contract "+ref+" not found")
		} else if err := v.CheckMasked(c); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return &kindError{ErrInvalid, strings.Join(msgs, "\n")}
	}
	return nil
}

// DeleteStream deletes a stream (with its derived streams when recursive)
// and returns the names deleted, the named one last. A source stream's
// records, its keys and the catalogue entries go in one atomic batch.
//
// A stream that jobs read (or whose derived streams jobs read) needs
// recursive as well, which stops and deletes those jobs first.
func (a *App) DeleteStream(name string, recursive bool) ([]string, error) {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	if _, err := a.streams.Get(name); err != nil {
		return nil, err
	}
	affected := append(a.streams.Derived(name), name)
	if len(affected) > 1 && !recursive {
		affected = nil // the catalogue refuses, naming the derived streams
	}
	if len(affected) > 0 {
		if err := a.dropJobsOfLocked(affected, name, recursive); err != nil {
			return nil, err
		}
	}
	drop := func(id log.StreamID, also func(store.Batch) error) error {
		a.forgetMu.Lock() // no event index catch-up meanwhile (keys.go)
		defer a.forgetMu.Unlock()
		dropKeys := a.keys.DropStream(id)
		return a.log.Drop(id, func(b store.Batch) error {
			if err := also(b); err != nil {
				return err
			}
			return dropKeys(b)
		})
	}
	deleted, err := a.streams.Delete(name, recursive, drop)
	// The keys' counts of links leave out a dropped stream's only once
	// they are counted again (keys.Keys.Recount), committed or not.
	if rerr := a.keys.Recount(); rerr != nil {
		a.opts.Logger.Error("cannot count key links", "error", rerr)
	}
	return deleted, err
}

// source returns the named source stream.
func (a *App) source(name string) (*catalog.Stream, error) {
	st, err := a.streams.Get(name)
	if err != nil {
		return nil, err
	}
	if st.IsDerived() {
		return nil, &kindError{ErrDerived, fmt.Sprintf("stream %q is derived from %q; key links belong to the source stream %q", st.Name, st.DerivedFrom, st.DerivedFrom)}
	}
	return st, nil
}
