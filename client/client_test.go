package client_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// The admin token goes on every management call and a stream's
// credentials on its unary and streaming calls.
func TestAuthOnEveryCallShape(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithAdminToken("admin-secret"))
	ctx := context.Background()

	bare := client.New(sb.URL, client.Options{HTTPClient: sb.HTTPClient})
	_, err := bare.Streams.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
	if got, want := connect.CodeOf(err), connect.CodeUnauthenticated; got != want {
		t.Fatalf("without the admin token: %v, want %v", err, want)
	}
	c := client.New(sb.URL+"/", client.Options{HTTPClient: sb.HTTPClient, AdminToken: "admin-secret"})
	if c.URL != sb.URL {
		t.Errorf("URL = %q, want %q", c.URL, sb.URL)
	}
	res, err := c.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	sc := c.AsStream(res.Msg.Stream.Credentials)
	sent, err := sc.Events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
		SchemaRef: "streammachine/demo/1.0.2", Serialization: v1.Serialization_SERIALIZATION_JSON,
		Events: [][]byte{[]byte(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [1]}, "consistentValue": "s"}`)},
	}))
	if err != nil || !sent.Msg.Results[0].Accepted {
		t.Fatalf("send: %v %v", sent, err)
	}
	tail, err := sc.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Start: &v1.TailRequest_FromBeginning{FromBeginning: true}}))
	if err != nil {
		t.Fatal(err)
	}
	var offsets []uint64
	for tail.Receive() {
		for _, r := range tail.Msg().Records {
			offsets = append(offsets, r.Offset)
		}
	}
	if err := tail.Err(); err != nil || len(offsets) != 1 || offsets[0] != 0 {
		t.Fatalf("streaming call with stream credentials: offsets %v, %v", offsets, err)
	}
	wrong := c.With(connect.WithInterceptors(client.BasicAuth(res.Msg.Stream.Credentials.ClientId, "wrong")))
	tail, err = wrong.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{}))
	if err == nil {
		for tail.Receive() {
		}
		err = tail.Err()
	}
	if got, want := client.Message(err), "invalid client credentials"; connect.CodeOf(err) != connect.CodeUnauthenticated || got != want {
		t.Errorf("wrong secret on a streaming call: %v (message %q), want Unauthenticated %q", err, got, want)
	}
}

func TestSaved(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"XDG_CONFIG_HOME": dir, "HOME": "/nowhere"}[k] }
	if got, want := client.ConfigDir(getenv), filepath.Join(dir, "strmlocal"); got != want {
		t.Errorf("ConfigDir = %q, want %q", got, want)
	}
	if got, want := client.ConfigDir(func(k string) string { return map[string]string{"HOME": "/home/u"}[k] }), "/home/u/.config/strmlocal"; got != want {
		t.Errorf("ConfigDir without XDG_CONFIG_HOME = %q, want %q", got, want)
	}
	s := client.SavedIn(client.ConfigDir(getenv))

	_, err := s.StreamCredentials("demo")
	want := "no saved credentials for stream demo: create it with `strmlocal create stream demo`, which saves them in " +
		filepath.Join(dir, "strmlocal/saved-entities/Stream/demo.json") +
		"; if it was created elsewhere (or with --save=false), save its credentials in that file"
	if err == nil || err.Error() != want {
		t.Errorf("missing credentials: %v\nwant %s", err, want)
	}

	st := &v1.Stream{Name: "demo", Credentials: &v1.Credentials{ClientId: "id", ClientSecret: "secret"}}
	path, err := s.Save("Stream", "demo", st)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("saved file mode: %v %v, want 0600", info.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if got, want := string(b), "{\n  \"name\": \"demo\",\n  \"credentials\": {\n    \"clientId\": \"id\",\n    \"clientSecret\": \"secret\"\n  }\n}\n"; got != want {
		t.Errorf("saved file:\n%s\nwant\n%s", got, want)
	}
	c, err := s.StreamCredentials("demo")
	if err != nil || c.ClientId != "id" || c.ClientSecret != "secret" {
		t.Errorf("StreamCredentials = %v, %v", c, err)
	}

	if _, err := s.Save("Stream", "../x", st); err == nil || err.Error() != `invalid name "../x" for a saved entity` {
		t.Errorf("Save ../x: %v", err)
	}
	if err := s.Remove("Stream", "demo"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("Stream", "demo"); err != nil {
		t.Errorf("removing a missing entity: %v", err)
	}
	if err := s.Load("Stream", "demo", &v1.Stream{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load after Remove: %v", err)
	}
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{connect.NewError(connect.CodeNotFound, errors.New("stream \"x\" not found")), `stream "x" not found`},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("a\nb\n")), "a; b"},
		{errors.New("plain"), "plain"},
	} {
		if got := client.Message(tc.err); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
