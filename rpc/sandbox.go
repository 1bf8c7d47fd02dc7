package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/client"
)

// sandboxService applies and exports sandbox documents (docs/sandbox.md).
type sandboxService struct{ s *Server }

var actionToProto = map[app.Action]v1.PlanAction{
	app.ActionCreate:    v1.PlanAction_PLAN_ACTION_CREATE,
	app.ActionUnchanged: v1.PlanAction_PLAN_ACTION_UNCHANGED,
	app.ActionUpdate:    v1.PlanAction_PLAN_ACTION_UPDATE,
	app.ActionConflict:  v1.PlanAction_PLAN_ACTION_CONFLICT,
}

// PlanResponse is a plan as Apply answers it: the items, and the streams
// created with their credentials.
func PlanResponse(p app.Plan) *v1.ApplyResponse {
	out := &v1.ApplyResponse{Applied: p.Applied}
	for _, i := range p.Items {
		out.Items = append(out.Items, &v1.PlanItem{Kind: i.Kind, Name: i.Name, Action: actionToProto[i.Action], Field: i.Field, Reason: i.Reason})
	}
	for _, c := range p.Created {
		out.CreatedStreams = append(out.CreatedStreams, toStream(c.Stream, c.Secret))
	}
	return out
}

// Apply reads the document (InvalidArgument for one that cannot be read)
// and applies it. A conflict is FailedPrecondition with the plan attached
// as an ApplyResponse detail, so that a client can print it.
func (h *sandboxService) Apply(ctx context.Context, req *connect.Request[v1.ApplyRequest]) (*connect.Response[v1.ApplyResponse], error) {
	var data []byte
	if doc := req.Msg.Document; doc != nil {
		var err error
		if data, err = protojson.Marshal(doc); err != nil {
			return nil, invalidArgument("document: %v", err)
		}
	} else {
		data = []byte("{}")
	}
	doc, err := app.ParseSandbox(data)
	if err != nil {
		return nil, toConnect(err)
	}
	plan, err := h.s.app.Apply(ctx, doc, req.Msg.DryRun)
	if err != nil {
		var ce *connect.Error
		if !errors.As(toConnect(err), &ce) {
			return nil, toConnect(err)
		}
		var conflict *app.ConflictError
		if errors.As(err, &conflict) {
			if d, derr := connect.NewErrorDetail(PlanResponse(conflict.Plan)); derr == nil {
				ce.AddDetail(d)
			}
		}
		return nil, ce
	}
	return connect.NewResponse(PlanResponse(plan)), nil
}

// ExportConfig returns the server as a sandbox document.
func (h *sandboxService) ExportConfig(context.Context, *connect.Request[v1.ExportConfigRequest]) (*connect.Response[v1.ExportConfigResponse], error) {
	doc, err := h.s.app.ExportConfig()
	if err != nil {
		return nil, toConnect(err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, toConnect(err)
	}
	st := new(structpb.Struct)
	if err := protojson.Unmarshal(data, st); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ExportConfigResponse{Document: st}), nil
}

// applySandboxFile applies Options.SandboxFile, if any (New).
func (s *Server) applySandboxFile(ctx context.Context) error {
	path := s.opts.SandboxFile
	if path == "" {
		return nil
	}
	st, err := client.LoadSandbox(path) // its errors name the file
	if err != nil {
		return err
	}
	data, err := protojson.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	doc, err := app.ParseSandbox(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	plan, err := s.app.Apply(ctx, doc, false)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	s.sandboxPlan = &plan
	return nil
}

// SandboxPlan is what applying Options.SandboxFile did: the plan and the
// streams created with their credentials (nil without a sandbox file).
func (s *Server) SandboxPlan() *v1.ApplyResponse {
	if s.sandboxPlan == nil {
		return nil
	}
	return PlanResponse(*s.sandboxPlan)
}
