package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/store"
)

type serverService struct{ s *Server }

func (h *serverService) GetServerInfo(context.Context, *connect.Request[v1.GetServerInfoRequest]) (*connect.Response[v1.GetServerInfoResponse], error) {
	u, err := h.s.app.Usage()
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetServerInfoResponse{
		Version:       h.s.opts.Version,
		DataDir:       h.s.app.DataDir(),
		FormatVersion: store.FormatVersion,
		StartTime:     timestamppb.New(h.s.app.StartTime()),
		ServerId:      h.s.app.ServerID(),
		ScaleOut:      h.s.app.ScaleOut(),
		Usage: &v1.Usage{
			SourceStreams: uint32(u.SourceStreams), DerivedStreams: uint32(u.DerivedStreams), Events: u.Events,
			Jobs: uint32(u.Jobs), JobsFailed: uint32(u.JobsFailed), DiskBytes: u.DiskBytes,
			Now: timestamppb.New(u.Now), VirtualClock: u.Virtual,
		},
	}), nil
}
