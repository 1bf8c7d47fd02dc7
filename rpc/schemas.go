package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

type schemaService struct{ s *Server }

var (
	stateToProto = map[catalog.State]v1.State{
		catalog.Draft:    v1.State_STATE_DRAFT,
		catalog.Active:   v1.State_STATE_ACTIVE,
		catalog.Archived: v1.State_STATE_ARCHIVED,
	}
	stateFromProto = map[v1.State]catalog.State{
		v1.State_STATE_DRAFT:    catalog.Draft,
		v1.State_STATE_ACTIVE:   catalog.Active,
		v1.State_STATE_ARCHIVED: catalog.Archived,
	}
	typeToProto = map[engine.SchemaType]v1.SchemaType{
		engine.Avro:       v1.SchemaType_SCHEMA_TYPE_AVRO,
		engine.JSONSchema: v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA,
	}
	typeFromProto = map[v1.SchemaType]engine.SchemaType{
		v1.SchemaType_SCHEMA_TYPE_AVRO:        engine.Avro,
		v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA: engine.JSONSchema,
	}
)

func toSchema(s *catalog.Schema) *v1.Schema {
	return &v1.Schema{
		Ref:         s.Ref().String(),
		Type:        typeToProto[s.Type()],
		Definition:  s.Definition(),
		State:       stateToProto[s.State],
		Fingerprint: s.Fingerprint(),
		CreateTime:  timestamppb.New(s.CreateTime),
	}
}

func (h *schemaService) CreateSchema(_ context.Context, req *connect.Request[v1.CreateSchemaRequest]) (*connect.Response[v1.CreateSchemaResponse], error) {
	m := req.Msg
	ref, err := engine.ParseRef(m.Ref)
	if err != nil {
		return nil, toConnect(err)
	}
	typ := engine.Avro
	if m.Type != v1.SchemaType_SCHEMA_TYPE_UNSPECIFIED {
		var ok bool
		if typ, ok = typeFromProto[m.Type]; !ok {
			return nil, invalidArgument("type: unknown schema type %d (want AVRO or JSON_SCHEMA)", m.Type)
		}
	}
	s, created, err := h.s.reg.CreateSchema(ref, typ, []byte(m.Definition), m.Draft)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.CreateSchemaResponse{Schema: toSchema(s), Created: created}), nil
}

func (h *schemaService) GetSchema(_ context.Context, req *connect.Request[v1.GetSchemaRequest]) (*connect.Response[v1.GetSchemaResponse], error) {
	s, err := h.s.reg.Schema(req.Msg.Ref)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetSchemaResponse{Schema: toSchema(s)}), nil
}

func (h *schemaService) ListSchemas(_ context.Context, req *connect.Request[v1.ListSchemasRequest]) (*connect.Response[v1.ListSchemasResponse], error) {
	m := req.Msg
	all := h.s.reg.Schemas(catalog.SchemaFilter{
		Handle: m.Handle, Name: m.Name, State: stateFromProto[m.State], Type: typeFromProto[m.Type],
	})
	out := make([]*v1.Schema, len(all))
	for i, s := range all {
		out[i] = toSchema(s)
	}
	return connect.NewResponse(&v1.ListSchemasResponse{Schemas: out}), nil
}

func (h *schemaService) ActivateSchema(_ context.Context, req *connect.Request[v1.ActivateSchemaRequest]) (*connect.Response[v1.ActivateSchemaResponse], error) {
	s, err := h.s.reg.SetSchemaState(req.Msg.Ref, catalog.Active)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ActivateSchemaResponse{Schema: toSchema(s)}), nil
}

func (h *schemaService) ArchiveSchema(_ context.Context, req *connect.Request[v1.ArchiveSchemaRequest]) (*connect.Response[v1.ArchiveSchemaResponse], error) {
	s, err := h.s.reg.SetSchemaState(req.Msg.Ref, catalog.Archived)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ArchiveSchemaResponse{Schema: toSchema(s)}), nil
}
