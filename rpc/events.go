package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/engine"
)

type eventService struct {
	strmlocalv1connect.UnimplementedEventServiceHandler
	s *Server
}

// serialization picks the body format: the one asked for, or the schema's
// own.
func serialization(s *engine.Schema, ser v1.Serialization) engine.Serialization {
	switch ser {
	case v1.Serialization_SERIALIZATION_AVRO_BINARY:
		return engine.AvroBinary
	case v1.Serialization_SERIALIZATION_JSON:
		return engine.JSON
	}
	return s.DefaultSerialization()
}

// validate runs ingest steps 1–3 on one body.
func (s *Server) validate(schema *engine.Schema, ser engine.Serialization, body []byte) (*engine.Event, *engine.CompiledContract, error) {
	return engine.Validate(schema, ser, body, s.opts.MaxEventBytes, s.reg.ActiveContract)
}

func (h *eventService) ValidateEvents(_ context.Context, req *connect.Request[v1.ValidateEventsRequest]) (*connect.Response[v1.ValidateEventsResponse], error) {
	m := req.Msg
	schema, err := h.s.reg.ActiveSchema(m.SchemaRef)
	if err != nil {
		return nil, toConnect(err)
	}
	ser := serialization(schema, m.Serialization)
	out := make([]*v1.Verdict, len(m.Events))
	for i, body := range m.Events {
		_, _, err := h.s.validate(schema, ser, body)
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
