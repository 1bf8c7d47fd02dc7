package engine

import "sync"

// A Slab is the memory a batch of events is decoded into (ValidateInto),
// so that the values of a batch's events take no allocation of their own:
// at 256 clickstream events a batch they were 40 % of the bytes ingest
// allocated, and their garbage collection with them. The slab takes
// chunks of memory from a pool and gives them back on Release, so a
// server that ingests batch after batch reuses the same few; a slab kept
// from batch to batch (app's pooled ingest scratch) allocates nothing. Each event
// keeps its own stretch of a chunk (it never grows into the next event's:
// its values are cut to their length). A Slab is not safe for concurrent
// use.
//
// The zero Slab is ready for a batch; Release readies it for the next one,
// keeping the memory of its Events.
type Slab struct {
	most   int        // the most values an event decoded into it took
	free   []value    // room after the last event decoded
	chunks []*[]value // the chunks taken, each cut to what its events use
	evs    []Event    // Events not handed out yet
	used   []Event    // the Events handed out, from the same array
}

// Chunk sizes, in values: a slab's first chunk is small (16 KiB: a single
// event, as POST /event sends, holds one for as long as its request waits
// for the disk, and 64 of them wait at once), the next ones large
// (256 KiB).
const (
	firstChunk = 512
	slabChunk  = 8192
)

// chunks pools the chunks of each size, zeroed.
var chunks = [2]sync.Pool{} // [0]: firstChunk values each, [1]: slabChunk

// room returns free memory for the next event of schema sc: a chunk when
// what is free may not hold one, nil when neither the slab nor the schema
// has seen one yet (its size tells them what to expect).
func (s *Slab) room(sc *Schema) []value {
	most := max(s.most, int(sc.mostValues.Load()))
	if most == 0 {
		return nil
	}
	// As much as an event may claim before it knows its size.
	if need := most + extraSlots; cap(s.free) < need {
		size, pool := firstChunk, &chunks[0]
		if len(s.chunks) > 0 || need > firstChunk {
			size, pool = slabChunk, &chunks[1]
		}
		if need > size {
			return nil // an event larger than a chunk: memory of its own
		}
		c, _ := pool.Get().(*[]value)
		if c == nil {
			b := make([]value, 0, size)
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
		s.evs = make([]Event, max(64, 2*cap(s.used)))
		s.used = s.evs[:0]
	}
	ev := &s.evs[0]
	s.evs = s.evs[1:]
	s.used = s.used[:len(s.used)+1]
	return ev
}

// took records that an event was decoded into vals, in room when it fit,
// and returns vals, cut to their length when they lie in the slab.
func (s *Slab) took(sc *Schema, room, vals []value) []value {
	if len(vals) > s.most {
		s.most = len(vals)
		if int32(len(vals)) > sc.mostValues.Load() {
			sc.mostValues.Store(int32(len(vals))) // a race loses only a hint
		}
	}
	if len(vals) == 0 || cap(room) == 0 || &room[:1][0] != &vals[0] {
		return vals // decoded elsewhere: the slab had too little room
	}
	s.free = room[len(vals):len(vals)]
	c := s.chunks[len(s.chunks)-1]
	*c = (*c)[:cap(*c)-cap(s.free)] // what the chunk's events use
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
		if cap(*c) == firstChunk {
			chunks[0].Put(c)
		} else {
			chunks[1].Put(c)
		}
	}
	clear(s.chunks)
	// The Events go back to the start of their array, cleared.
	evs := s.used[:cap(s.used)]
	clear(s.used)
	*s = Slab{chunks: s.chunks[:0], evs: evs, used: evs[:0]}
}
