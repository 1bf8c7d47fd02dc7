package strmtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
)

// Stream is a stream of the sandbox with clients that carry its
// credentials.
type Stream struct {
	*v1.Stream
	Events strmlocalv1connect.EventServiceClient
	Egress strmlocalv1connect.EgressServiceClient

	sb *Sandbox
	t  testing.TB
}

// CreateStream creates a source stream.
func (sb *Sandbox) CreateStream(name string) *Stream {
	sb.t.Helper()
	return sb.create(&v1.CreateStreamRequest{Name: name})
}

// CreateDerived creates a derived stream of source with these consent
// levels: CUMULATIVE for one level, GRANULAR for several. Its name is the
// default, <source>-<levels joined by '-'>.
func (sb *Sandbox) CreateDerived(source string, levels ...int32) *Stream {
	sb.t.Helper()
	ct := v1.ConsentType_CONSENT_TYPE_CUMULATIVE
	if len(levels) > 1 {
		ct = v1.ConsentType_CONSENT_TYPE_GRANULAR
	}
	return sb.create(&v1.CreateStreamRequest{DerivedFrom: source, Levels: levels, ConsentType: ct})
}

// CreateStreamWith creates a stream from a full request (masked fields,
// granular single levels).
func (sb *Sandbox) CreateStreamWith(req *v1.CreateStreamRequest) *Stream {
	sb.t.Helper()
	return sb.create(req)
}

func (sb *Sandbox) create(req *v1.CreateStreamRequest) *Stream {
	res, err := sb.Streams.CreateStream(context.Background(), connect.NewRequest(req))
	if err != nil {
		sb.t.Fatalf("strmtest: create stream %q: %v", req.Name, err)
	}
	st := res.Msg.Stream
	// Stream calls carry the stream's credentials, not the admin token.
	sc := sb.Client.AsStream(st.Credentials)
	return &Stream{
		Stream: st,
		Events: sc.Events,
		Egress: sc.Egress,
		sb:     sb,
		t:      sb.t,
	}
}

// Send sends JSON events of one schema as a batch and returns one result per
// event.
func (s *Stream) Send(schemaRef string, events ...string) []*v1.EventResult {
	s.t.Helper()
	req := &v1.SendEventsRequest{SchemaRef: schemaRef, Serialization: v1.Serialization_SERIALIZATION_JSON}
	for _, e := range events {
		req.Events = append(req.Events, []byte(e))
	}
	res, err := s.Events.SendEvents(context.Background(), connect.NewRequest(req))
	if err != nil {
		s.t.Fatalf("strmtest: send to %s: %v", s.Name, err)
	}
	return res.Msg.Results
}

// Read returns every record the stream shows now, from the beginning.
func (s *Stream) Read() []*v1.Record {
	s.t.Helper()
	var out []*v1.Record
	for from := uint64(0); ; {
		res, err := s.Egress.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
		if err != nil {
			s.t.Fatalf("strmtest: read %s: %v", s.Name, err)
		}
		out = append(out, res.Msg.Records...)
		if res.Msg.NextOffset >= res.Msg.EndOffset || res.Msg.NextOffset == from {
			return out
		}
		from = res.Msg.NextOffset
	}
}

// JSON returns the events of Read as JSON documents.
func (s *Stream) JSON() []string {
	s.t.Helper()
	var out []string
	for _, r := range s.Read() {
		out = append(out, r.Json)
	}
	return out
}

// Advance moves the server's virtual clock forward (and shreds the keys
// that became due), as `strmlocal clock advance` does.
func (sb *Sandbox) Advance(d time.Duration) {
	sb.t.Helper()
	if _, err := sb.ClockService.AdvanceClock(context.Background(), connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(d)})); err != nil {
		sb.t.Fatalf("strmtest: advance clock: %v", err)
	}
}

// BasicAuth sends a stream's credentials with every request, unary and
// streaming, as the EventService and EgressService require.
func BasicAuth(clientID, secret string) connect.Interceptor {
	return client.BasicAuth(clientID, secret)
}

// BearerAuth returns an interceptor that sends a bearer token (an access
// token from the token endpoint, see Stream.Token) on every request.
func BearerAuth(token string) connect.Interceptor { return client.BearerAuth(token) }

// Token returns a fresh access token of the stream from the STRM token
// endpoint, for POST /event, GET /ws and the Connect API.
func (s *Stream) Token() string {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest("POST", s.sb.URL+client.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.Credentials.ClientId, s.Credentials.ClientSecret)
	res, err := s.sb.HTTPClient.Do(req)
	if err != nil {
		s.t.Fatalf("strmtest: token of %s: %v", s.Name, err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		s.t.Fatalf("strmtest: token of %s: %s %v", s.Name, res.Status, err)
	}
	return body.AccessToken
}
