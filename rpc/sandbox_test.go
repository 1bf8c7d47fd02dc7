package rpc_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// TestSandboxService: Apply and ExportConfig over every protocol, the codes
// of a bad document and of a conflict (with the plan as a detail), and the
// admin guard.
func TestSandboxService(t *testing.T) {
	doc, err := client.ParseSandbox([]byte("streams:\n  - name: a\n  - name: a-1\n    derivedFrom: a\n    levels: [1]\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			sb := strmtest.New(t, strmtest.WithAdminToken("tok"))
			c := strmlocalv1connect.NewSandboxServiceClient(sb.HTTPClient, sb.URL, append(p.opts, connect.WithInterceptors(client.BearerAuth("tok")))...)

			res, err := c.Apply(ctx, connect.NewRequest(&v1.ApplyRequest{Document: doc}))
			if err != nil {
				t.Fatal(err)
			}
			if m := res.Msg; !m.Applied || len(m.Items) != 2 || m.Items[1].Name != "a-1" || m.Items[1].Action != v1.PlanAction_PLAN_ACTION_CREATE ||
				len(m.CreatedStreams) != 2 || len(m.CreatedStreams[0].GetCredentials().GetClientSecret()) != 52 {
				t.Fatalf("apply: %v", m)
			}
			exp, err := c.ExportConfig(ctx, connect.NewRequest(&v1.ExportConfigRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(exp.Msg.Document.Fields["streams"].GetListValue().GetValues()); got != 2 {
				t.Fatalf("export: %v", exp.Msg.Document)
			}

			bad, _ := structpb.NewStruct(map[string]any{"streams": []any{map[string]any{"name": "b", "derivedFrom": "x", "levels": []any{1}}}})
			_, err = c.Apply(ctx, connect.NewRequest(&v1.ApplyRequest{Document: bad}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || client.Message(err) != `streams[0].derivedFrom: stream "x" is not in the document or on the server` {
				t.Fatalf("bad document: %v", err)
			}

			changed, _ := structpb.NewStruct(map[string]any{"streams": []any{map[string]any{"name": "a", "description": "other"}}})
			_, err = c.Apply(ctx, connect.NewRequest(&v1.ApplyRequest{Document: changed, DryRun: true}))
			var ce *connect.Error
			if connect.CodeOf(err) != connect.CodeFailedPrecondition || !asConnect(err, &ce) || len(ce.Details()) != 1 {
				t.Fatalf("conflict: %v", err)
			}
			detail, err := ce.Details()[0].Value()
			plan, ok := detail.(*v1.ApplyResponse)
			if err != nil || !ok || len(plan.Items) != 1 || plan.Items[0].Action != v1.PlanAction_PLAN_ACTION_CONFLICT || plan.Items[0].Field != "description" {
				t.Fatalf("conflict detail: %v, %v", detail, err)
			}

			anon := strmlocalv1connect.NewSandboxServiceClient(sb.HTTPClient, sb.URL, p.opts...)
			if _, err := anon.ExportConfig(ctx, connect.NewRequest(&v1.ExportConfigRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("without the admin token: %v", err)
			}
		})
	}
}
