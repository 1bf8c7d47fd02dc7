package rpc

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/log"
)

type egressService struct{ s *Server }

const (
	defaultPage = 100
	maxPage     = 10000
)

// reader is one stream as a reader sees it: the log it reads and, for a
// derived stream, the view applied to each record.
type reader struct {
	s    *Server
	id   log.StreamID
	view *engine.View
	memo *engine.DecryptMemo // derived streams only
	buf  []byte
}

// readerFor authenticates a read of a stream and sets up its reader.
func (s *Server) readerFor(h http.Header, name string) (*reader, error) {
	st, err := s.streamAuth(h, name)
	if err != nil {
		return nil, err
	}
	return s.readerOf(st)
}

func (s *Server) readerOf(st *catalog.Stream) (*reader, error) {
	r := &reader{s: s, id: st.ID}
	if st.IsDerived() {
		src, err := s.cat.Get(st.DerivedFrom)
		if err != nil {
			return nil, toConnect(err)
		}
		v := st.View()
		r.id, r.view, r.memo = src.ID, &v, engine.NewDecryptMemo()
	}
	return r, nil
}

// registryResolver resolves refs of stored events in any state.
type registryResolver struct{ reg *catalog.Registry }

func (r registryResolver) Schema(ref string) (*engine.Schema, error) {
	s, err := r.reg.Schema(ref)
	if err != nil {
		return nil, err
	}
	return s.Schema, nil
}

func (r registryResolver) Contract(ref string) (*engine.CompiledContract, error) {
	c, err := r.reg.Contract(ref)
	if err != nil {
		return nil, err
	}
	return c.CompiledContract, nil
}

// render turns log records into the records the stream shows.
func (r *reader) render(recs []log.Record) ([]*v1.Record, error) {
	out := make([]*v1.Record, 0, len(recs))
	for _, rec := range recs {
		ev, keep, err := r.s.pipe.Render(rec, r.view, registryResolver{r.s.reg}, r.memo, r.buf)
		if err != nil {
			r.s.opts.Logger.Error("cannot read record", "error", err)
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		if !keep {
			continue
		}
		r.buf = ev.JSON
		out = append(out, &v1.Record{
			Offset:           ev.Offset,
			Time:             timestamppb.New(ev.Time),
			SchemaRef:        ev.Meta.SchemaRef,
			EventContractRef: ev.Meta.ContractRef,
			KeyLink:          ev.Meta.KeyLink,
			ConsentLevels:    ev.Meta.Consent,
			Json:             string(ev.JSON),
			Decrypted:        ev.Applied.Decrypted,
			Masked:           ev.Applied.Masked,
			Encrypted:        ev.Applied.Encrypted,
			Shredded:         ev.Applied.Shredded,
		})
	}
	return out, nil
}

// start finds the offset a read starts at.
func (r *reader) start(req *v1.TailRequest) (uint64, error) {
	first, next, err := r.s.log.Bounds(r.id)
	if err != nil {
		return 0, toConnect(err)
	}
	switch st := req.Start.(type) {
	case *v1.TailRequest_FromBeginning:
		if st.FromBeginning {
			return first, nil
		}
	case *v1.TailRequest_FromOffset:
		return st.FromOffset, nil
	case *v1.TailRequest_FromTime:
		off, err := r.s.log.SeekTime(r.id, st.FromTime.AsTime())
		return off, toConnect(err)
	}
	return next, nil
}

func (h *egressService) Tail(ctx context.Context, req *connect.Request[v1.TailRequest], stream *connect.ServerStream[v1.TailResponse]) error {
	r, err := h.s.readerFor(req.Header(), req.Msg.Stream)
	if err != nil {
		return err
	}
	from, err := r.start(req.Msg)
	if err != nil {
		return err
	}
	if !req.Msg.Follow {
		_, end, err := h.s.log.Bounds(r.id)
		if err != nil {
			return toConnect(err)
		}
		for from < end {
			recs, err := h.s.log.Read(r.id, from, int(min(end-from, maxPage)))
			if err != nil {
				return toConnect(err)
			}
			if len(recs) == 0 {
				return nil
			}
			from = recs[len(recs)-1].Offset + 1
			if err := r.send(stream, recs); err != nil {
				return err
			}
		}
		return nil
	}
	// Answer at once: without a first message the response headers wait
	// for the first event, and so does a client's call.
	if err := stream.Send(&v1.TailResponse{}); err != nil {
		return err
	}
	sub := h.s.log.Subscribe(r.id, from)
	for {
		recs, err := sub.Next(ctx)
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return nil // the client went away, or the server is stopping
		case err != nil:
			return toConnect(err)
		}
		if err := r.send(stream, recs); err != nil {
			return err
		}
	}
}

func (r *reader) send(stream *connect.ServerStream[v1.TailResponse], recs []log.Record) error {
	out, err := r.render(recs)
	if err != nil || len(out) == 0 {
		return err
	}
	return stream.Send(&v1.TailResponse{Records: out})
}

func (h *egressService) ReadEvents(_ context.Context, req *connect.Request[v1.ReadEventsRequest]) (*connect.Response[v1.ReadEventsResponse], error) {
	m := req.Msg
	r, err := h.s.readerFor(req.Header(), m.Stream)
	if err != nil {
		return nil, err
	}
	limit := int(m.Limit)
	switch {
	case limit == 0:
		limit = defaultPage
	case limit > maxPage:
		limit = maxPage
	}
	from := m.FromOffset
	if m.FromTime != nil {
		if from, err = h.s.log.SeekTime(r.id, m.FromTime.AsTime()); err != nil {
			return nil, toConnect(err)
		}
	}
	// A derived stream's page holds up to limit kept records; it reads on
	// through dropped ones, up to the end of the log.
	res := &v1.ReadEventsResponse{NextOffset: from}
	for len(res.Records) < limit {
		recs, err := h.s.log.Read(r.id, res.NextOffset, limit-len(res.Records))
		if err != nil {
			return nil, toConnect(err)
		}
		if len(recs) == 0 {
			break
		}
		res.NextOffset = recs[len(recs)-1].Offset + 1
		out, err := r.render(recs)
		if err != nil {
			return nil, err
		}
		res.Records = append(res.Records, out...)
	}
	if _, res.EndOffset, err = h.s.log.Bounds(r.id); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(res), nil
}
