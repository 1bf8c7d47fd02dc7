package rpc

import (
	"context"
	"errors"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
)

type egressService struct{ s *Server }

// readerFor authenticates a read of a stream and opens its reader.
func (s *Server) readerFor(h http.Header, name string) (*app.Reader, error) {
	st, err := s.streamAuth(h, name)
	if err != nil {
		return nil, err
	}
	r, err := s.app.Reader(st)
	return r, toConnect(err)
}

// toRecords turns the records a stream shows into their wire form. The
// messages and their timestamps are allocated as two arrays, not one by one:
// a page holds up to 10,000 records, and they live and die together.
func toRecords(recs []app.Record) []*v1.Record {
	out := make([]*v1.Record, len(recs))
	msgs := make([]v1.Record, len(recs))
	times := make([]timestamppb.Timestamp, len(recs))
	for i := range recs {
		ev, m, t := &recs[i], &msgs[i], &times[i]
		t.Seconds, t.Nanos = ev.Time.Unix(), int32(ev.Time.Nanosecond())
		m.Offset = ev.Offset
		m.Time = t
		m.SchemaRef = ev.Meta.SchemaRef
		m.EventContractRef = ev.Meta.ContractRef
		m.KeyLink = ev.Meta.KeyLink
		m.ConsentLevels = ev.Meta.Consent
		m.Json = ev.JSON
		m.Decrypted = ev.Applied.Decrypted
		m.Masked = ev.Applied.Masked
		m.Encrypted = ev.Applied.Encrypted
		m.Shredded = ev.Applied.Shredded
		out[i] = m
	}
	return out
}

// tailStart is where a Tail starts: the end unless told otherwise.
func tailStart(req *v1.TailRequest) app.Start {
	switch st := req.Start.(type) {
	case *v1.TailRequest_FromBeginning:
		if st.FromBeginning {
			return app.FromBeginning()
		}
	case *v1.TailRequest_FromOffset:
		return app.FromOffset(st.FromOffset)
	case *v1.TailRequest_FromTime:
		return app.FromTime(st.FromTime.AsTime())
	}
	return app.FromEnd()
}

func (h *egressService) Tail(ctx context.Context, req *connect.Request[v1.TailRequest], stream *connect.ServerStream[v1.TailResponse]) error {
	r, err := h.s.readerFor(req.Header(), req.Msg.Stream)
	if err != nil {
		return err
	}
	from, err := r.Seek(tailStart(req.Msg))
	if err != nil {
		return toConnect(err)
	}
	h.s.metrics.tailSubscribers.Inc()
	defer h.s.metrics.tailSubscribers.Dec()
	guard := newWriteGuard(ctx, h.s.opts.WriteTimeout)
	defer guard.release()
	send := func(m *v1.TailResponse) error {
		slow, err := guard.send(func() error { return stream.Send(m) })
		if slow {
			h.s.opts.Logger.Info("tail client not reading: disconnected", "stream", req.Msg.Stream)
		}
		return err
	}
	if !req.Msg.Follow {
		// What is there now, in pages as large as a page may be.
		_, end, err := r.Bounds()
		if err != nil {
			return toConnect(err)
		}
		for from < end {
			start := time.Now()
			page, err := r.ReadUntil(ctx, from, end, app.MaxPageRecords)
			if err != nil {
				return toConnect(err)
			}
			if page.Next == from {
				return nil
			}
			from = page.Next
			if len(page.Records) > 0 {
				if err := send(&v1.TailResponse{Records: toRecords(page.Records)}); err != nil {
					return err
				}
				h.s.metrics.egressed(egressTail, start)
			}
		}
		return nil
	}
	// Answer at once: without a first message the response headers wait
	// for the first event, and so does a client's call.
	if err := send(&v1.TailResponse{}); err != nil {
		return err
	}
	f := r.Follow(from)
	for {
		recs, err := f.Next(ctx)
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return nil // the client went away, or the server is stopping
		case err != nil:
			return toConnect(err)
		}
		start := time.Now()
		if err := send(&v1.TailResponse{Records: toRecords(recs)}); err != nil {
			return err
		}
		h.s.metrics.egressed(egressTail, start)
	}
}

func (h *egressService) ReadEvents(ctx context.Context, req *connect.Request[v1.ReadEventsRequest]) (*connect.Response[v1.ReadEventsResponse], error) {
	m := req.Msg
	r, err := h.s.readerFor(req.Header(), m.Stream)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	from := m.FromOffset
	if m.FromTime != nil {
		if from, err = r.Seek(app.FromTime(m.FromTime.AsTime())); err != nil {
			return nil, toConnect(err)
		}
	}
	page, err := r.Read(ctx, from, int(m.Limit))
	if err != nil {
		return nil, toConnect(err)
	}
	res := &v1.ReadEventsResponse{Records: toRecords(page.Records), NextOffset: page.Next}
	if _, res.EndOffset, err = r.Bounds(); err != nil {
		return nil, toConnect(err)
	}
	h.s.metrics.egressed(egressRead, start)
	return connect.NewResponse(res), nil
}
