package keys

import (
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// A new link, or a subject newly recorded against a link, is an entry: it
// is cached (and so handed out by For) at once, and written to Pebble by
// the first append that carries it (Pending, a log.Also), in the batch of
// that append's group commit. Every For that returns a Key whose entries
// are not written yet adds them to its Pending, so every append that uses
// the link carries its writes until one of them is written: an append
// whose group follows the one that wrote them is synced after them (one
// WAL, written in group order), and an append that carries them writes
// them itself. So no event is acknowledged before its link is durable, and
// a link costs no commit of its own.
//
// Entries are written once: the first group writes them and later ones
// skip them, so a write can never bring back a link that Forget or Sweep
// shredded in between. The groups write them holding opMu shared, from
// the first Add to the last Done, so a shred cannot fall between the check
// that a link is still live and the write.

// entry is one link's or one subject record's writes, not yet in storage.
type entry struct {
	k    *Key
	link bool   // the link's record and its index entries; else a subject of k
	sh   digest // the subject, when !link
	rec  []byte // the link's encoded record, when link

	// state moves unwritten → claimed (in the group being written) →
	// written, or back to unwritten when that group is abandoned.
	// REQUIRES: Keys.writeMu held.
	state entryState
}

type entryState uint8

const (
	unwritten entryState = iota
	claimed
	written
)

// add puts e's writes into b.
func (e *entry) add(b store.Batch) {
	k := e.k
	if !e.link {
		b.Set(subjectKey(e.sh, k.id), nil)
		b.Set(subjectsKey(k.id, e.sh), nil)
		return
	}
	b.Set(linkKey(k.id), e.rec)
	b.Set(streamKey(k.Stream, k.Created, k.id), nil)
	b.Set(currentKey(k.Stream, k.vh), k.id[:])
	b.Set(expiryKey(k.ExpiresAt, k.id), nil)
}

// Pending collects the writes that the keys For handed out for the events
// of one append still need, and the event index entries of its records
// (Event, events.go): it is the log.Also of that append (log.AppendAlso).
// The zero value is not usable; get one with Keys.Pending. A Pending is
// used by one goroutine at a time, for one append.
type Pending struct {
	ks      *Keys
	entries []*entry

	// The records told by Event: their stream (other differs when keys of
	// two streams were told), and per link its span among them, as
	// positions in the append.
	events        int
	stream, other log.StreamID
	spans         []appendSpan
	byLink        map[uuid.UUID]int // index in spans, once there are many
	spare         map[uuid.UUID]int // an empty map for byLink, from an earlier use
	last          int               // the span Event touched last
}

// appendSpan is a link's events in one append, as positions in it.
type appendSpan struct {
	id                 uuid.UUID
	first, last, count uint32
}

// spansScanned bounds the spans Event compares one by one before it looks
// them up in byLink.
const spansScanned = 8

// Pending returns an empty Pending for the appends of ks's events. Release
// gives it back once its append has returned.
func (ks *Keys) Pending() *Pending {
	p := pendings.Get().(*Pending)
	p.ks = ks
	return p
}

// pendings holds released Pendings with their memory: an append of 256
// events names up to 256 links, and their spans and map were a fifth of
// what a batch's keys allocated.
var pendings = sync.Pool{New: func() any { return new(Pending) }}

// maxPooledSpans bounds the spans a released Pending keeps room for.
const maxPooledSpans = 4096

// Release gives p back to be used for another append. Call it once the
// append p went with has returned (the log is done with p by then: its
// Done was called, or its Add never will be), or when p goes with none;
// p is not to be used after.
func (p *Pending) Release() {
	clear(p.entries)
	spans, m := p.spans[:0], p.byLink
	if m == nil {
		m = p.spare
	}
	clear(m)
	if cap(spans) > maxPooledSpans {
		spans, m = nil, nil
	}
	*p = Pending{entries: p.entries[:0], spans: spans, spare: m}
	pendings.Put(p)
}

// Empty says p has nothing to write: no key writes and no events told, so
// its append needs no Also.
func (p *Pending) Empty() bool { return len(p.entries) == 0 && p.events == 0 }

// Event tells p that the next record of its append is encrypted with k:
// one call per record, in order, so that the append keeps the event index
// (events.go). An append with no Event keeps none, and the stream's index
// falls behind until a catch-up (IndexEvents).
func (p *Pending) Event(k *Key) {
	if p.ks.opts.Shared {
		return // offsets are the log's to tell, after the write (shared.go)
	}
	pos := uint32(p.events)
	if p.events == 0 {
		p.stream, p.other = k.Stream, k.Stream
	} else if k.Stream != p.stream {
		p.other = k.Stream
	}
	p.events++
	i := -1
	switch {
	case p.last < len(p.spans) && p.spans[p.last].id == k.id:
		i = p.last
	case p.byLink != nil:
		if j, ok := p.byLink[k.id]; ok {
			i = j
		}
	default:
		for j := range p.spans {
			if p.spans[j].id == k.id {
				i = j
				break
			}
		}
	}
	if i < 0 {
		i = len(p.spans)
		p.spans = append(p.spans, appendSpan{id: k.id, first: pos})
		switch {
		case p.byLink != nil:
			p.byLink[k.id] = i
		case len(p.spans) > spansScanned:
			p.byLink, p.spare = p.spare, nil
			if p.byLink == nil {
				p.byLink = make(map[uuid.UUID]int, 2*len(p.spans))
			}
			for j := range p.spans {
				p.byLink[p.spans[j].id] = j
			}
		}
	}
	s := &p.spans[i]
	s.last = pos
	s.count++
	p.last = i
}

func (p *Pending) attach(e *entry) {
	if e == nil {
		return
	}
	for _, have := range p.entries {
		if have == e {
			return
		}
	}
	p.entries = append(p.entries, e)
}

// Add puts into b the writes of p not written yet, for links still live,
// and merges the event index spans of the append's records, offsets
// [first, first+n), into its group's (events.go; EndGroup writes them). It is
// log.Also's Add: called by the log's committer goroutine only, with a
// Done for every Add.
func (p *Pending) Add(b store.Batch, first uint64, n int) error {
	ks := p.ks
	if ks.groupDepth == 0 {
		ks.opMu.RLock()
		ks.writeMu.Lock()
	}
	ks.groupDepth++
	if ks.closed {
		return ErrClosed
	}
	if err := ks.indexAppend(b, p, first, n); err != nil {
		return err
	}
	ks.claim(p.entries, b)
	return nil
}

// EndGroup puts into b the event index entries of the group's appends, one per
// stream it appended to, and the cursors (events.go). It is log.Also's
// EndGroup: called by the log's committer goroutine after the last Add of the
// group, for every Pending whose Add succeeded; the first call of the
// group does the work (the Pendings of a group share their Keys), the
// others find nothing left to write.
func (p *Pending) EndGroup(b store.Batch) error {
	ks := p.ks
	if ks.groupDepth == 0 {
		return fmt.Errorf("keys: EndGroup without an Add")
	}
	ks.endGroupEvents(b)
	return nil
}

// Done settles the writes of the group once the last of its Adds is done:
// written when ok, else to be written by a later append (and the event
// index state read again).
func (p *Pending) Done(ok bool) {
	ks := p.ks
	if ks.groupDepth--; ks.groupDepth > 0 {
		return
	}
	ks.settle(ok)
	ks.settleEvents(ok)
	ks.writeMu.Unlock()
	ks.opMu.RUnlock()
}

// claim adds to b the writes of the entries neither written nor claimed
// whose link is still live, and claims them. REQUIRES: opMu held shared,
// writeMu held.
func (ks *Keys) claim(entries []*entry, b store.Batch) {
	for _, e := range entries {
		if e.state != unwritten {
			continue
		}
		ks.mu.RLock()
		live := ks.live[e.k.id] == e.k
		ks.mu.RUnlock()
		if !live {
			// Shredded, or its stream dropped, since For handed it out:
			// nothing may be written for it any more.
			continue
		}
		e.add(b)
		e.state = claimed
		ks.claimed = append(ks.claimed, e)
	}
}

// settle marks the claimed entries written (ok) or unwritten again, and
// drops the written ones from their keys, so that For stops handing them
// out. REQUIRES: opMu held shared, writeMu held.
func (ks *Keys) settle(ok bool) {
	if !ok {
		for _, e := range ks.claimed {
			e.state = unwritten
		}
		clear(ks.claimed)
		ks.claimed = ks.claimed[:0]
		return
	}
	ks.mu.Lock()
	for _, e := range ks.claimed {
		e.state = written
		k := e.k
		if e.link {
			e.rec = nil
			if k.pend == e {
				k.pend = nil
			}
			ks.counts.live.Add(1)
			ks.opts.Logger.Debug("key link created", "link", k.ID, "stream", uint64(k.Stream))
		} else if k.subjects[e.sh] == e {
			k.subjects[e.sh] = nil
		}
	}
	ks.mu.Unlock()
	clear(ks.claimed)
	ks.claimed = ks.claimed[:0]
}

// write commits the writes of p not written yet in a batch of their own,
// without a sync (For's own writes: see doc.go, Durability).
func (ks *Keys) write(p *Pending) error {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return ErrClosed
	}
	ks.writeMu.Lock()
	defer ks.writeMu.Unlock()
	b := ks.db.NewBatch()
	defer b.Close()
	ks.claim(p.entries, b)
	if b.Empty() {
		ks.settle(true)
		return nil
	}
	if err := b.Commit(false); err != nil {
		ks.settle(false)
		return fmt.Errorf("keys: store key link %s: %w", p.entries[0].k.ID, err)
	}
	ks.settle(true)
	return nil
}
