package rpc

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

type clockService struct{ s *Server }

func (h *clockService) GetClock(context.Context, *connect.Request[v1.GetClockRequest]) (*connect.Response[v1.GetClockResponse], error) {
	a := h.s.app
	return connect.NewResponse(&v1.GetClockResponse{Now: timestamppb.New(a.Clock().Now()), Virtual: a.Virtual()}), nil
}

func (h *clockService) AdvanceClock(_ context.Context, req *connect.Request[v1.AdvanceClockRequest]) (*connect.Response[v1.AdvanceClockResponse], error) {
	var by time.Duration // 0, refused, for a missing or invalid duration
	if req.Msg.By.CheckValid() == nil {
		by = req.Msg.By.AsDuration()
	}
	adv, err := h.s.app.Advance(by)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.AdvanceClockResponse{Now: timestamppb.New(adv.Now), KeysShredded: uint32(adv.KeysShredded), JobsRun: uint32(adv.JobsRun)}), nil
}
