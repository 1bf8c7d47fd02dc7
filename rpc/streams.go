package rpc

import (
	"context"
	"maps"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
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
	deleted, err := h.s.app.DeleteStream(req.Msg.Name, req.Msg.Recursive)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.DeleteStreamResponse{Deleted: deleted}), nil
}
