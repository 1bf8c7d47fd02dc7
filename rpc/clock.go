package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/clock"
)

type clockService struct{ s *Server }

func (h *clockService) GetClock(context.Context, *connect.Request[v1.GetClockRequest]) (*connect.Response[v1.GetClockResponse], error) {
	_, virtual := h.s.opts.Clock.(*clock.Virtual)
	return connect.NewResponse(&v1.GetClockResponse{Now: timestamppb.New(h.s.opts.Clock.Now()), Virtual: virtual}), nil
}

func (h *clockService) AdvanceClock(_ context.Context, req *connect.Request[v1.AdvanceClockRequest]) (*connect.Response[v1.AdvanceClockResponse], error) {
	v, ok := h.s.opts.Clock.(*clock.Virtual)
	if !ok {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the server runs on the real clock; start it with --clock virtual to move time"))
	}
	if err := req.Msg.By.CheckValid(); err != nil || req.Msg.By.AsDuration() <= 0 {
		return nil, invalidArgument("by: give a positive duration, e.g. 25h")
	}
	now, err := v.Advance(req.Msg.By.AsDuration())
	if err != nil {
		return nil, invalidArgument("by: %v", err)
	}
	n, err := h.s.sweep()
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.AdvanceClockResponse{Now: timestamppb.New(now), KeysShredded: uint32(n)}), nil
}
