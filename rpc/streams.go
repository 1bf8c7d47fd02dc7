package rpc

import (
	"context"
	"errors"
	"maps"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/log"
)

type streamService struct{ s *Server }

var consentToProto = map[string]v1.ConsentType{
	engine.Cumulative.String(): v1.ConsentType_CONSENT_TYPE_CUMULATIVE,
	engine.Granular.String():   v1.ConsentType_CONSENT_TYPE_GRANULAR,
}

func toStream(st *catalog.Stream, secret string) *v1.Stream {
	out := &v1.Stream{
		Name:        st.Name,
		Description: st.Description,
		Tags:        st.Tags,
		Credentials: &v1.Credentials{ClientId: st.ClientID, ClientSecret: secret},
		CreateTime:  timestamppb.New(st.CreateTime),
		Uuid:        st.UUID,
	}
	if st.IsDerived() {
		out.DerivedFrom, out.ConsentType, out.Levels = st.DerivedFrom, consentToProto[st.ConsentType], st.Levels
		for _, ref := range slices.Sorted(maps.Keys(st.Masked)) {
			out.MaskedFields = append(out.MaskedFields, &v1.MaskedFields{ContractRef: ref, Fields: st.Masked[ref]})
		}
		if len(st.Masked) > 0 {
			out.MaskSeed = "***"
		}
		if st.EmitFilter != nil {
			out.EmitFilter = st.EmitFilter.String()
		}
	}
	return out
}

func (h *streamService) CreateStream(_ context.Context, req *connect.Request[v1.CreateStreamRequest]) (*connect.Response[v1.CreateStreamResponse], error) {
	m := req.Msg
	n := catalog.NewStream{Name: m.Name, Description: m.Description, Tags: m.Tags, DerivedFrom: m.DerivedFrom}
	if m.DerivedFrom == "" {
		if m.ConsentType != v1.ConsentType_CONSENT_TYPE_UNSPECIFIED || len(m.Levels) > 0 || len(m.MaskedFields) > 0 || m.MaskSeed != "" || m.EmitFilter != "" {
			return nil, invalidArgument("derivedFrom: consent type, levels, masked fields and emit filters are for derived streams; name the source stream to derive from")
		}
	} else {
		// CUMULATIVE unless asked otherwise, as the original platform did.
		n.View = engine.View{Type: engine.Cumulative, Levels: m.Levels, Seed: m.MaskSeed}
		switch m.ConsentType {
		case v1.ConsentType_CONSENT_TYPE_UNSPECIFIED, v1.ConsentType_CONSENT_TYPE_CUMULATIVE:
		case v1.ConsentType_CONSENT_TYPE_GRANULAR:
			n.View.Type = engine.Granular
		default:
			return nil, invalidArgument("consentType: unknown consent type %d (want CUMULATIVE or GRANULAR)", m.ConsentType)
		}
		if m.EmitFilter != "" {
			f, err := engine.ParseEmitFilter(m.EmitFilter)
			if err != nil {
				return nil, toConnect(err)
			}
			n.View.Emit = &f
		}
		if len(m.MaskedFields) > 0 {
			n.View.Masked = map[string][]string{}
			for _, mf := range m.MaskedFields {
				n.View.Masked[mf.ContractRef] = append(n.View.Masked[mf.ContractRef], mf.Fields...)
			}
		}
	}
	st, secret, err := h.s.app.CreateStream(n)
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
	out, err := h.s.withCount(st)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.GetStreamResponse{Stream: out}), nil
}

func (h *streamService) ListStreams(context.Context, *connect.Request[v1.ListStreamsRequest]) (*connect.Response[v1.ListStreamsResponse], error) {
	all := h.s.cat.List()
	out := make([]*v1.Stream, 0, len(all))
	for _, st := range all {
		ws, err := h.s.withCount(st)
		if errors.Is(err, log.ErrDropped) {
			continue // deleted since List
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ws)
	}
	return connect.NewResponse(&v1.ListStreamsResponse{Streams: out}), nil
}

// withCount is a stream's wire form with the events it holds (source
// streams only: docs/metrics.md).
func (s *Server) withCount(st *catalog.Stream) (*v1.Stream, error) {
	out := toStream(st, "")
	size, ok, err := s.app.StreamSize(st)
	if err != nil {
		return nil, toConnect(err)
	}
	if ok {
		out.Events = &size.Events
	}
	return out, nil
}

func (h *streamService) GetStreamUsage(ctx context.Context, req *connect.Request[v1.GetStreamUsageRequest]) (*connect.Response[v1.GetStreamUsageResponse], error) {
	m := req.Msg
	st, err := h.s.cat.Get(m.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	var q app.UsageQuery
	if m.From != nil {
		q.From = m.From.AsTime()
	}
	if m.Until != nil {
		q.Until = m.Until.AsTime()
	}
	if m.By != nil {
		if q.By = m.By.AsDuration(); q.By == 0 {
			q.By = -1 // given as 0: refused as too short, not the default
		}
	}
	u, err := h.s.app.StreamUsage(ctx, st, q)
	if err != nil {
		return nil, toConnect(err)
	}
	res := &v1.GetStreamUsageResponse{
		From: timestamppb.New(u.From), Until: timestamppb.New(u.Until), By: durationpb.New(u.By),
		Windows: make([]*v1.UsageWindow, len(u.Windows)),
	}
	for i, w := range u.Windows {
		res.Windows[i] = &v1.UsageWindow{From: timestamppb.New(w.From), Until: timestamppb.New(w.Until), Count: w.Count, Rate: w.Rate()}
	}
	return connect.NewResponse(res), nil
}

func (h *streamService) DeleteStream(_ context.Context, req *connect.Request[v1.DeleteStreamRequest]) (*connect.Response[v1.DeleteStreamResponse], error) {
	deleted, err := h.s.app.DeleteStream(req.Msg.Name, req.Msg.Recursive)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.DeleteStreamResponse{Deleted: deleted}), nil
}
