package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

type contractService struct{ s *Server }

func toContract(cc *catalog.Contract) *v1.EventContract {
	c := cc.Contract()
	out := &v1.EventContract{
		Ref:              c.Ref.String(),
		SchemaRef:        c.SchemaRef.String(),
		KeyField:         c.KeyField,
		DataSubjectField: c.DataSubjectField,
		State:            stateToProto[cc.State],
		CreateTime:       timestamppb.New(cc.CreateTime),
	}
	if len(c.PIIFields) > 0 {
		out.PiiFields = make(map[string]int32, len(c.PIIFields))
		for path, level := range c.PIIFields {
			out.PiiFields[path] = int32(level)
		}
	}
	for _, v := range c.Validations {
		out.Validations = append(out.Validations, &v1.Validation{Field: v.Field, Type: v.Type, Value: v.Value})
	}
	return out
}

// ContractOf is the definition of the wire contract m: its key and data
// subject fields, PII fields and validations. Its refs are the caller's to
// parse and set.
func ContractOf(m *v1.EventContract) engine.Contract {
	c := engine.Contract{KeyField: m.KeyField, DataSubjectField: m.DataSubjectField}
	if len(m.PiiFields) > 0 {
		c.PIIFields = make(map[string]int, len(m.PiiFields))
		for path, level := range m.PiiFields {
			c.PIIFields[path] = int(level)
		}
	}
	for _, v := range m.Validations {
		c.Validations = append(c.Validations, engine.Validation{Field: v.Field, Type: v.Type, Value: v.Value})
	}
	return c
}

func (h *contractService) CreateEventContract(_ context.Context, req *connect.Request[v1.CreateEventContractRequest]) (*connect.Response[v1.CreateEventContractResponse], error) {
	m := req.Msg.GetEventContract()
	if m == nil {
		return nil, invalidArgument("event_contract: missing")
	}
	ref, err := engine.ParseRef(m.Ref)
	if err != nil {
		return nil, toConnect(err)
	}
	sref, err := engine.ParseRef(m.SchemaRef)
	if err != nil {
		return nil, invalidArgument("schemaRef: %v", err)
	}
	c := ContractOf(m)
	c.Ref, c.SchemaRef = ref, sref
	cc, created, err := h.s.reg.CreateContract(c, req.Msg.Draft)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.CreateEventContractResponse{EventContract: toContract(cc), Created: created}), nil
}

func (h *contractService) GetEventContract(_ context.Context, req *connect.Request[v1.GetEventContractRequest]) (*connect.Response[v1.GetEventContractResponse], error) {
	cc, err := h.s.reg.Contract(req.Msg.Ref)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetEventContractResponse{EventContract: toContract(cc)}), nil
}

func (h *contractService) ListEventContracts(_ context.Context, req *connect.Request[v1.ListEventContractsRequest]) (*connect.Response[v1.ListEventContractsResponse], error) {
	m := req.Msg
	all := h.s.reg.Contracts(catalog.ContractFilter{
		Handle: m.Handle, Name: m.Name, State: stateFromProto[m.State], SchemaRef: m.SchemaRef,
	})
	out := make([]*v1.EventContract, len(all))
	for i, cc := range all {
		out[i] = toContract(cc)
	}
	return connect.NewResponse(&v1.ListEventContractsResponse{EventContracts: out}), nil
}

func (h *contractService) ActivateEventContract(_ context.Context, req *connect.Request[v1.ActivateEventContractRequest]) (*connect.Response[v1.ActivateEventContractResponse], error) {
	cc, err := h.s.reg.SetContractState(req.Msg.Ref, catalog.Active)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ActivateEventContractResponse{EventContract: toContract(cc)}), nil
}

func (h *contractService) ArchiveEventContract(_ context.Context, req *connect.Request[v1.ArchiveEventContractRequest]) (*connect.Response[v1.ArchiveEventContractResponse], error) {
	cc, err := h.s.reg.SetContractState(req.Msg.Ref, catalog.Archived)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ArchiveEventContractResponse{EventContract: toContract(cc)}), nil
}
