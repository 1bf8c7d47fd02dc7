package rpc

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

type keyService struct{ s *Server }

func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (h *keyService) ListKeyLinks(_ context.Context, req *connect.Request[v1.ListKeyLinksRequest]) (*connect.Response[v1.ListKeyLinksResponse], error) {
	links, err := h.s.app.KeyLinks(req.Msg.Stream)
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
	rows, err := h.s.app.ExportKeys(req.Msg.Stream)
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
	f, err := h.s.app.Forget(req.Msg.DataSubjectId)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ForgetDataSubjectResponse{KeyLinks: uint32(f.KeyLinks), Events: f.Events}), nil
}
