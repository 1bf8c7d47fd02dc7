package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

type keyService struct{ s *Server }

// sourceByName returns a source stream's log id; key links belong to source
// streams.
func (s *Server) sourceByName(name string) (log.StreamID, error) {
	st, err := s.cat.Get(name)
	if err != nil {
		return 0, toConnect(err)
	}
	if st.IsDerived() {
		return 0, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("stream %q is derived from %q; key links belong to the source stream %q", st.Name, st.DerivedFrom, st.DerivedFrom))
	}
	return st.ID, nil
}

func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (h *keyService) ListKeyLinks(_ context.Context, req *connect.Request[v1.ListKeyLinksRequest]) (*connect.Response[v1.ListKeyLinksResponse], error) {
	id, err := h.s.sourceByName(req.Msg.Stream)
	if err != nil {
		return nil, err
	}
	links, err := h.s.keys.Links(id)
	if err != nil {
		return nil, toConnect(err)
	}
	out := make([]*v1.KeyLink, len(links))
	for i, l := range links {
		out[i] = &v1.KeyLink{
			KeyLink: l.ID, Stream: req.Msg.Stream,
			CreateTime: timestamppb.New(l.Created), RotateTime: timestamppb.New(l.RotatesAt), ExpireTime: timestamppb.New(l.ExpiresAt),
			Shredded: l.Shredded, ShredTime: optTime(l.ShreddedAt), Forgotten: l.Forgotten,
		}
	}
	return connect.NewResponse(&v1.ListKeyLinksResponse{KeyLinks: out}), nil
}

func (h *keyService) ExportKeys(_ context.Context, req *connect.Request[v1.ExportKeysRequest]) (*connect.Response[v1.ExportKeysResponse], error) {
	id, err := h.s.sourceByName(req.Msg.Stream)
	if err != nil {
		return nil, err
	}
	rows, err := h.s.keys.Export(id)
	if err != nil {
		return nil, toConnect(err)
	}
	out := make([]*v1.ExportedKey, len(rows))
	for i, r := range rows {
		out[i] = &v1.ExportedKey{KeyLink: r.KeyLink, Keyset: r.Keyset, ExpireTime: timestamppb.New(r.ExpiresAt)}
	}
	return connect.NewResponse(&v1.ExportKeysResponse{Keys: out}), nil
}

func (h *keyService) ForgetDataSubject(_ context.Context, req *connect.Request[v1.ForgetDataSubjectRequest]) (*connect.Response[v1.ForgetDataSubjectResponse], error) {
	if req.Msg.DataSubjectId == "" {
		return nil, invalidArgument("dataSubjectId: must not be empty")
	}
	links, err := h.s.keys.Forget(req.Msg.DataSubjectId)
	if err != nil {
		return nil, toConnect(err)
	}
	events, err := h.s.countEvents(links)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ForgetDataSubjectResponse{KeyLinks: uint32(len(links)), Events: events}), nil
}

// countEvents counts the events encrypted with any of links, by scanning
// the metadata of their streams' logs.
func (s *Server) countEvents(links []keys.Link) (uint64, error) {
	byStream := map[log.StreamID]map[string]bool{}
	for _, l := range links {
		if byStream[l.Stream] == nil {
			byStream[l.Stream] = map[string]bool{}
		}
		byStream[l.Stream][l.ID] = true
	}
	var n uint64
	for id, set := range byStream {
		for from := uint64(0); ; {
			recs, err := s.log.Read(id, from, maxPage)
			if errors.Is(err, log.ErrDropped) || len(recs) == 0 {
				break
			}
			if err != nil {
				return 0, err
			}
			for _, r := range recs {
				m, err := engine.ParseRecordMeta(r.Meta)
				if err != nil {
					return 0, err
				}
				if set[m.KeyLink] {
					n++
				}
			}
			from = recs[len(recs)-1].Offset + 1
		}
	}
	return n, nil
}
