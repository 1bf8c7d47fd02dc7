package sim

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// ConnectSender sends each batch with one EventService.SendEvents call. The
// client must carry the stream's credentials.
type ConnectSender struct {
	Events strmlocalv1connect.EventServiceClient
	// Stream, when set, is checked by the server against the credentials.
	Stream string
}

func (s *ConnectSender) Send(ctx context.Context, b *Batch, res []Result, lat *Histogram) error {
	ser := v1.Serialization_SERIALIZATION_AVRO_BINARY
	if b.JSON {
		ser = v1.Serialization_SERIALIZATION_JSON
	}
	start := time.Now()
	r, err := s.Events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
		Stream: s.Stream, SchemaRef: b.Schema, Serialization: ser, Events: b.Events,
	}))
	lat.Record(time.Since(start))
	if err != nil {
		return err
	}
	if len(r.Msg.Results) != len(b.Events) {
		return fmt.Errorf("the server answered %d results for %d events; is it a strmlocal server of the same version?", len(r.Msg.Results), len(b.Events))
	}
	for i, er := range r.Msg.Results {
		res[i] = Result{Accepted: er.Accepted}
		if !er.Accepted {
			res[i].Verdict = Verdict{Rule: er.GetRejection().GetRule(), Field: er.GetRejection().GetField()}
		}
	}
	return nil
}

// ConnectForgetter runs erasure requests with KeyService.ForgetDataSubject.
type ConnectForgetter struct {
	Keys strmlocalv1connect.KeyServiceClient
}

func (f *ConnectForgetter) Forget(ctx context.Context, subject string) (keyLinks, events uint64, err error) {
	r, err := f.Keys.ForgetDataSubject(ctx, connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: subject}))
	if err != nil {
		return 0, 0, err
	}
	return uint64(r.Msg.KeyLinks), r.Msg.Events, nil
}

// Definitions fetches the definitions of a generator's schemas (SchemaRefs)
// through SchemaService.GetSchema, for New.
func Definitions(ctx context.Context, schemas strmlocalv1connect.SchemaServiceClient, generator string) (map[string]string, error) {
	refs, err := SchemaRefs(generator)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(refs))
	for _, ref := range refs {
		r, err := schemas.GetSchema(ctx, connect.NewRequest(&v1.GetSchemaRequest{Ref: ref}))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", ref, err)
		}
		out[ref] = r.Msg.GetSchema().GetDefinition()
	}
	return out, nil
}
