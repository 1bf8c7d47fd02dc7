package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/catalog"
)

type streamService struct{ s *Server }

func toStream(st *catalog.Stream, secret string) *v1.Stream {
	return &v1.Stream{
		Name:        st.Name,
		Description: st.Description,
		Tags:        st.Tags,
		Credentials: &v1.Credentials{ClientId: st.ClientID, ClientSecret: secret},
		CreateTime:  timestamppb.New(st.CreateTime),
	}
}

func (h *streamService) CreateStream(_ context.Context, req *connect.Request[v1.CreateStreamRequest]) (*connect.Response[v1.CreateStreamResponse], error) {
	m := req.Msg
	st, secret, err := h.s.cat.Create(catalog.NewStream{Name: m.Name, Description: m.Description, Tags: m.Tags})
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.CreateStreamResponse{Stream: toStream(st, secret)}), nil
}

func (h *streamService) GetStream(_ context.Context, req *connect.Request[v1.GetStreamRequest]) (*connect.Response[v1.GetStreamResponse], error) {
	st, err := h.s.cat.Get(req.Msg.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetStreamResponse{Stream: toStream(st, "")}), nil
}

func (h *streamService) ListStreams(context.Context, *connect.Request[v1.ListStreamsRequest]) (*connect.Response[v1.ListStreamsResponse], error) {
	all := h.s.cat.List()
	out := make([]*v1.Stream, len(all))
	for i, st := range all {
		out[i] = toStream(st, "")
	}
	return connect.NewResponse(&v1.ListStreamsResponse{Streams: out}), nil
}

func (h *streamService) DeleteStream(_ context.Context, req *connect.Request[v1.DeleteStreamRequest]) (*connect.Response[v1.DeleteStreamResponse], error) {
	if err := h.s.cat.Delete(req.Msg.Name, h.s.log.Drop); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.DeleteStreamResponse{}), nil
}
