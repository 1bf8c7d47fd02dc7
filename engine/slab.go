package engine

// A Slab is the memory a batch of events is decoded into (ValidateInto),
// so that the values of a batch's events take a few allocations instead
// of one each, each cut to the values it holds (on its own, an event's
// values are allocated with room to grow). Each event keeps its own
// stretch of the slab (it never grows into the next event's: its values
// are cut to their length); the slab hands out only memory no event
// holds. A Slab is not safe for concurrent use.
type Slab struct {
	events int     // events still to decode, as NewSlab was told
	seen   int     // events decoded
	total  int     // their values
	most   int     // the most values one of them took
	free   []value // room after the last event decoded into the slab
	evs    []Event // Events not handed out yet
}

// maxSlabValues is the most a slab allocates at once (256 KiB of values).
const maxSlabValues = 8192

// NewSlab returns a slab for a batch of events (how many, to size it).
func NewSlab(events int) *Slab { return &Slab{events: events} }

// room returns free memory for the next event: nil for the first (its
// size tells the slab what to expect), and fresh memory for the events
// left when what is free may not hold one.
func (s *Slab) room() []value {
	if s.seen == 0 {
		return nil
	}
	need := s.most + extraSlots // as much as an event may claim before it knows its size
	if cap(s.free) < need {
		avg := s.total/s.seen + 1
		s.free = make([]value, 0, min(maxSlabValues, max(need, s.events*avg+extraSlots)))
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
	s.total += len(vals)
	s.most = max(s.most, len(vals))
	if len(vals) == 0 || cap(room) == 0 || &room[:1][0] != &vals[0] {
		return vals // decoded elsewhere: the slab had too little room
	}
	s.free = room[len(vals):len(vals)]
	return vals[:len(vals):len(vals)]
}
