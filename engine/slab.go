package engine

import "sync"

// A Slab is the memory a batch of events is decoded into (ValidateInto),
// so that the values of a batch's events take no allocation of their own:
// at 256 clickstream events a batch they were 40 % of the bytes ingest
// allocated, and their garbage collection with them. The slab takes
// chunks of memory from a pool and gives them back on Release, so a
// server that ingests batch after batch reuses the same few. Each event
// keeps its own stretch of a chunk (it never grows into the next event's:
// its values are cut to their length). A Slab is not safe for concurrent
// use.
type Slab struct {
	seen   int        // events decoded into the slab
	most   int        // the most values one of them took
	free   []value    // room after the last event decoded
	chunks []*[]value // the chunks taken, each cut to what its events use
	evs    []Event    // Events not handed out yet
	events int        // events still to decode, as NewSlab was told
}

// slabChunk is the size of a chunk, in values (256 KiB).
const slabChunk = 8192

var chunks sync.Pool // of *[]value, slabChunk each, zeroed

// NewSlab returns a slab for a batch of events (how many, to size its
// Events).
func NewSlab(events int) *Slab { return &Slab{events: events} }

// room returns free memory for the next event: nil for the first (its
// size tells the slab what to expect), and a chunk when what is free may
// not hold an event.
func (s *Slab) room() []value {
	if s.seen == 0 {
		return nil
	}
	// As much as an event may claim before it knows its size.
	if need := s.most + extraSlots; cap(s.free) < need {
		if need > slabChunk {
			return nil // an event larger than a chunk: memory of its own
		}
		c, _ := chunks.Get().(*[]value)
		if c == nil {
			b := make([]value, 0, slabChunk)
			c = &b
		}
		s.chunks = append(s.chunks, c)
		s.free = (*c)[:0]
	}
	return s.free
}

// event returns an Event of the slab's.
func (s *Slab) event() *Event {
	if len(s.evs) == 0 {
		s.evs = make([]Event, min(256, max(1, s.events)))
	}
	ev := &s.evs[0]
	s.evs = s.evs[1:]
	return ev
}

// took records that an event was decoded into vals, in room when it fit,
// and returns vals, cut to their length when they lie in the slab.
func (s *Slab) took(room, vals []value) []value {
	s.events--
	s.seen++
	s.most = max(s.most, len(vals))
	if len(vals) == 0 || cap(room) == 0 || &room[:1][0] != &vals[0] {
		return vals // decoded elsewhere: the slab had too little room
	}
	s.free = room[len(vals):len(vals)]
	c := s.chunks[len(s.chunks)-1]
	*c = (*c)[:slabChunk-cap(s.free)] // what the chunk's events use
	return vals[:len(vals):len(vals)]
}

// Release gives the slab's memory back for other batches. Every event
// decoded into it must be out of use: their values are cleared. A nil
// Slab releases nothing.
func (s *Slab) Release() {
	if s == nil {
		return
	}
	for _, c := range s.chunks {
		clear(*c)
		*c = (*c)[:0]
		chunks.Put(c)
	}
	*s = Slab{}
}
