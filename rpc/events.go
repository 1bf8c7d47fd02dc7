package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

type eventService struct{ s *Server }

// serialization is the body format a request names; 0 means the schema's
// own.
func serialization(ser v1.Serialization) engine.Serialization {
	switch ser {
	case v1.Serialization_SERIALIZATION_AVRO_BINARY:
		return engine.AvroBinary
	case v1.Serialization_SERIALIZATION_JSON:
		return engine.JSON
	}
	return 0
}

func (h *eventService) ValidateEvents(_ context.Context, req *connect.Request[v1.ValidateEventsRequest]) (*connect.Response[v1.ValidateEventsResponse], error) {
	m := req.Msg
	if err := h.s.checkBatch(len(m.Events)); err != nil {
		return nil, err
	}
	errs, err := h.s.app.Validate(m.SchemaRef, serialization(m.Serialization), m.Events)
	if err != nil {
		return nil, toConnect(err)
	}
	out := make([]*v1.Verdict, len(errs))
	var vs batchVerdicts
	for i, err := range errs {
		if err == nil {
			out[i] = &v1.Verdict{}
		} else {
			out[i] = vs.of(uint64(i), err)
		}
	}
	return connect.NewResponse(&v1.ValidateEventsResponse{Verdicts: out}), nil
}

// verdict reports a rejection to the event's own producer: the message may
// quote the rejected value, which is why it goes nowhere else.
func verdict(err error) *v1.Verdict {
	if err == nil {
		return &v1.Verdict{}
	}
	var re *engine.RejectError
	if errors.As(err, &re) {
		return &v1.Verdict{Error: re.Msg, Field: re.Field, Rule: re.Rule}
	}
	return &v1.Verdict{Error: err.Error()}
}

// source resolves the stream a send goes to: the credentials' stream, which
// must be a source stream. A derived stream is returned with the error.
func (s *Server) source(h http.Header, name string) (*catalog.Stream, error) {
	st, err := s.streamAuth(h, name)
	if err != nil {
		return nil, err
	}
	if st.IsDerived() {
		return st, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("stream %q is derived from %q and accepts no events; send to %q", st.Name, st.DerivedFrom, st.DerivedFrom))
	}
	return st, nil
}

// ingest sends a batch that came in by path through the pipeline, and
// counts it (metrics.go).
func (s *Server) ingest(ctx context.Context, path ingestPath, st *catalog.Stream, schemaRef string, ser engine.Serialization, bodies [][]byte) ([]app.Result, error) {
	start := time.Now()
	res, err := s.app.Ingest(ctx, st, schemaRef, ser, bodies)
	s.metrics.ingested(path, st.Name, start, res, err, len(bodies))
	return res, toConnect(err)
}

// refusedSend counts the events of a send refused before ingest: under
// the stream's name when the credentials were good (a derived stream),
// else under none.
func (s *Server) refusedSend(st *catalog.Stream, err error, n int) {
	name := ""
	if r := reasonOf(err); r != reasonUnauthenticated && st != nil {
		name = st.Name
	}
	s.metrics.refused(name, reasonOf(err), n)
}

func (h *eventService) SendEvent(ctx context.Context, req *connect.Request[v1.SendEventRequest]) (*connect.Response[v1.SendEventResponse], error) {
	m := req.Msg
	st, err := h.s.source(req.Header(), m.Stream)
	if err != nil {
		h.s.refusedSend(st, err, 1)
		return nil, err
	}
	res, err := h.s.ingest(ctx, pathConnect, st, m.SchemaRef, serialization(m.Serialization), [][]byte{m.Event})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, toConnect(res[0].Err)
	}
	return connect.NewResponse(&v1.SendEventResponse{Offset: res[0].Offset}), nil
}

func (h *eventService) SendEvents(ctx context.Context, req *connect.Request[v1.SendEventsRequest]) (*connect.Response[v1.SendEventsResponse], error) {
	m := req.Msg
	st, err := h.s.source(req.Header(), m.Stream)
	if err != nil {
		h.s.refusedSend(st, err, len(m.Events))
		return nil, err
	}
	if err := h.s.checkBatch(len(m.Events)); err != nil {
		h.s.metrics.refused(st.Name, reasonRequest, len(m.Events))
		return nil, err
	}
	res, err := h.s.ingest(ctx, pathConnect, st, m.SchemaRef, serialization(m.Serialization), m.Events)
	if err != nil {
		return nil, err
	}
	// One array for the results, not one allocation each.
	out, each := make([]*v1.EventResult, len(res)), make([]v1.EventResult, len(res))
	var vs batchVerdicts
	for i, r := range res {
		out[i] = &each[i]
		if r.Err != nil {
			out[i].Rejection = vs.of(uint64(i), r.Err)
		} else {
			out[i].Accepted, out[i].Offset = true, r.Offset
		}
	}
	return connect.NewResponse(&v1.SendEventsResponse{Results: out}), nil
}

// SendEventStream appends each batch before it reads the next. When a
// batch fails, the error carries what the earlier batches stored (the
// response so far, as an error detail): the producer knows what to send
// again.
func (h *eventService) SendEventStream(ctx context.Context, cs *connect.ClientStream[v1.SendEventStreamRequest]) (*connect.Response[v1.SendEventStreamResponse], error) {
	var st *catalog.Stream
	var schemaRef string
	var ser v1.Serialization
	out := &v1.SendEventStreamResponse{}
	var index uint64
	var seen streamVerdicts
	for cs.Receive() {
		m := cs.Msg()
		if st == nil || m.Stream != "" {
			var err error
			if st, err = h.s.source(cs.RequestHeader(), m.Stream); err != nil {
				h.s.refusedSend(st, err, len(m.Events))
				return nil, withStored(err, out)
			}
		}
		if m.SchemaRef != "" {
			schemaRef = m.SchemaRef
		}
		if m.Serialization != v1.Serialization_SERIALIZATION_UNSPECIFIED {
			ser = m.Serialization
		}
		if err := h.s.checkBatch(len(m.Events)); err != nil {
			h.s.metrics.refused(st.Name, reasonRequest, len(m.Events))
			return nil, withStored(err, out)
		}
		res, err := h.s.ingest(ctx, pathConnect, st, schemaRef, serialization(ser), m.Events)
		if err != nil {
			return nil, withStored(err, out)
		}
		for _, r := range res {
			if r.Err != nil {
				out.Rejected++
				if v := verdict(r.Err); seen.list(v, len(out.Rejections)) {
					out.Rejections = append(out.Rejections, &v1.IndexedVerdict{Index: index, Verdict: v})
				}
			} else {
				out.Accepted++
				out.Offsets = addOffset(out.Offsets, r.Offset)
			}
			index++
		}
		out.Batches++
	}
	if err := cs.Err(); err != nil {
		return nil, withStored(err, out)
	}
	return connect.NewResponse(out), nil
}

// addOffset adds the offset of an accepted event to runs of consecutive
// offsets.
func addOffset(runs []*v1.OffsetRange, off uint64) []*v1.OffsetRange {
	if n := len(runs); n > 0 && runs[n-1].First+runs[n-1].Count == off {
		runs[n-1].Count++
		return runs
	}
	if len(runs) >= streamListed {
		return runs
	}
	return append(runs, &v1.OffsetRange{First: off, Count: 1})
}

// withStored is the error of a SendEventStream that failed part-way, with
// what the stream stored before as a detail.
func withStored(err error, stored *v1.SendEventStreamResponse) error {
	var ce *connect.Error
	if !errors.As(toConnect(err), &ce) {
		return err
	}
	if d, derr := connect.NewErrorDetail(stored); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}

// checkBatch refuses a batch of more events than Options.MaxBatchEvents.
func (s *Server) checkBatch(n int) error {
	if n > s.opts.MaxBatchEvents {
		return invalidArgument("a batch holds at most %d events, this one %d: send them in smaller batches", s.opts.MaxBatchEvents, n)
	}
	return nil
}

// The bounds of a rejection report (docs/api.md): without them, a batch of
// empty events made an answer 50 times its size.
const (
	// sameInFull is how many events of a batch are given one verdict in
	// full; later ones point at the first (Verdict.same_as), and a stream
	// only counts them.
	sameInFull = 10
	// streamListed bounds the rejections, the distinct verdicts remembered
	// and the offset runs of a SendEventStream.
	streamListed = 1000
)

type verdictKey struct{ error, field, rule string }

// batchVerdicts gives the verdicts of one batch: the first sameInFull
// events with a verdict get it in full, later ones a pointer to the first.
// It holds at most one entry per event of the batch.
type batchVerdicts struct {
	seen map[verdictKey]*verdictSeen
}

type verdictSeen struct {
	first uint64 // index of the first event with the verdict
	n     int    // how many events got it
}

// of is the verdict of event i, rejected with err.
func (vs *batchVerdicts) of(i uint64, err error) *v1.Verdict {
	v := verdict(err)
	if vs.seen == nil {
		vs.seen = make(map[verdictKey]*verdictSeen)
	}
	k := verdictKey{v.Error, v.Field, v.Rule}
	seen, ok := vs.seen[k]
	if !ok {
		vs.seen[k] = &verdictSeen{first: i, n: 1}
		return v
	}
	seen.n++
	if seen.n <= sameInFull {
		return v
	}
	return &v1.Verdict{Error: fmt.Sprintf("same as event %d of the batch", seen.first), Field: v.Field, Rule: v.Rule, SameAs: proto.Uint64(seen.first)}
}

// streamVerdicts decides which rejections of a SendEventStream are listed:
// the first sameInFull with each verdict, streamListed in all. It
// remembers at most streamListed verdicts; events with a verdict it does
// not remember are listed while there is room.
type streamVerdicts struct {
	seen map[verdictKey]int
}

// list reports whether a rejection with verdict v is listed, listed being
// how many are.
func (vs *streamVerdicts) list(v *v1.Verdict, listed int) bool {
	if listed >= streamListed {
		return false
	}
	if vs.seen == nil {
		vs.seen = make(map[verdictKey]int)
	}
	k := verdictKey{v.Error, v.Field, v.Rule}
	n, ok := vs.seen[k]
	if !ok && len(vs.seen) >= streamListed {
		return true
	}
	vs.seen[k] = n + 1
	return n < sameInFull
}
