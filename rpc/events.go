package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"

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
	errs, err := h.s.app.Validate(m.SchemaRef, serialization(m.Serialization), m.Events)
	if err != nil {
		return nil, toConnect(err)
	}
	out := make([]*v1.Verdict, len(errs))
	for i, err := range errs {
		out[i] = verdict(err)
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
// must be a source stream.
func (s *Server) source(h http.Header, name string) (*catalog.Stream, error) {
	st, err := s.streamAuth(h, name)
	if err != nil {
		return nil, err
	}
	if st.IsDerived() {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("stream %q is derived from %q and accepts no events; send to %q", st.Name, st.DerivedFrom, st.DerivedFrom))
	}
	return st, nil
}

// ingest sends a batch through the pipeline.
func (s *Server) ingest(ctx context.Context, st *catalog.Stream, schemaRef string, ser engine.Serialization, bodies [][]byte) ([]app.Result, error) {
	res, err := s.app.Ingest(ctx, st, schemaRef, ser, bodies)
	return res, toConnect(err)
}

func (h *eventService) SendEvent(ctx context.Context, req *connect.Request[v1.SendEventRequest]) (*connect.Response[v1.SendEventResponse], error) {
	m := req.Msg
	st, err := h.s.source(req.Header(), m.Stream)
	if err != nil {
		return nil, err
	}
	res, err := h.s.ingest(ctx, st, m.SchemaRef, serialization(m.Serialization), [][]byte{m.Event})
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
		return nil, err
	}
	res, err := h.s.ingest(ctx, st, m.SchemaRef, serialization(m.Serialization), m.Events)
	if err != nil {
		return nil, err
	}
	out := make([]*v1.EventResult, len(res))
	for i, r := range res {
		if r.Err != nil {
			out[i] = &v1.EventResult{Rejection: verdict(r.Err)}
		} else {
			out[i] = &v1.EventResult{Accepted: true, Offset: r.Offset}
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
	for cs.Receive() {
		m := cs.Msg()
		if st == nil || m.Stream != "" {
			var err error
			if st, err = h.s.source(cs.RequestHeader(), m.Stream); err != nil {
				return nil, withStored(err, out)
			}
		}
		if m.SchemaRef != "" {
			schemaRef = m.SchemaRef
		}
		if m.Serialization != v1.Serialization_SERIALIZATION_UNSPECIFIED {
			ser = m.Serialization
		}
		res, err := h.s.ingest(ctx, st, schemaRef, serialization(ser), m.Events)
		if err != nil {
			return nil, withStored(err, out)
		}
		for _, r := range res {
			if r.Err != nil {
				out.Rejections = append(out.Rejections, &v1.IndexedVerdict{Index: index, Verdict: verdict(r.Err)})
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
