package rpc_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/strmtest"
)

// Two gateways of one scale-out sandbox: a stream created through one is
// known to the other, a token issued by one is taken by the other, and
// what was sent through the second is read, decrypted, through the first.
func TestScaleOutTokensAcrossGateways(t *testing.T) {
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	dsn, broker := pgtest.NewDatabase(t, pgtest.Shared(t)), kafkatest.Start(t)
	so := strmtest.WithScaleOut(strmtest.ScaleOut{StateURL: dsn, Brokers: []string{broker.Addr}, MasterKey: master})
	g1, g2 := strmtest.New(t, so), strmtest.New(t, so)
	info, err := g2.ServerInfo.GetServerInfo(t.Context(), connect.NewRequest(&v1.GetServerInfoRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Msg.ScaleOut, "log in Kafka at "+broker.Addr+", state in PostgreSQL at "+dsn; got != want {
		t.Errorf("server info: scale-out %q, want %q", got, want)
	}
	demoStream := g1.CreateStream("demo")
	derived := g1.CreateDerived("demo", 2)
	token := demoStream.Token() // issued by g1

	hdr := map[string]string{"Authorization": "Bearer " + token, "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json"}
	// g2 knows the stream once g1's notification arrived (milliseconds).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := postEvent(t, g2.HTTPClient, g2.URL+"/event", hdr, []byte(demo("session-1", 2)))
		if r.status == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST /event to the other gateway: %+v", r)
		}
	}
	got := derived.JSON() // read through g1
	if len(got) != 1 || !strings.Contains(got[0], `"consistentValue":"session-1"`) {
		t.Fatalf("derived stream through the other gateway: %q", got)
	}
}

// The brokers going away under a scale-out gateway: /ready and POST /event
// answer 503 with the reason (which service, not where), and both recover
// by themselves once the brokers are back.
func TestScaleOutBrokersAway(t *testing.T) {
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	broker := kafkatest.Start(t)
	sb := strmtest.New(t, strmtest.WithScaleOut(strmtest.ScaleOut{
		StateURL: pgtest.NewDatabase(t, pgtest.Shared(t)), Brokers: []string{broker.Addr}, MasterKey: master,
	}))
	demoStream := sb.CreateStream("demo")
	hdr := map[string]string{"Authorization": "Bearer " + demoStream.Token(), "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json"}
	send := func() httpReply { return postEvent(t, sb.HTTPClient, sb.URL+"/event", hdr, []byte(demo("s1", 2))) }
	ready := func() httpReply {
		t.Helper()
		res, err := sb.HTTPClient.Get(sb.URL + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return httpReply{res.StatusCode, res.Header.Get("Retry-After"), string(b)}
	}
	until := func(what string, f func() httpReply, want httpReply) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got := f()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %+v, want %+v", what, got, want)
			}
		}
	}
	if got := send(); got.status != http.StatusNoContent {
		t.Fatalf("POST /event = %+v", got)
	}
	broker.Stop(t)
	const why = "storage unavailable: the Kafka brokers (the log) do not answer; writes resume by themselves when they do"
	until("/ready with the brokers away", ready, httpReply{503, "1", why + "\n"})
	if got, want := send(), (httpReply{503, "text/plain; charset=utf-8", why}); got != want {
		t.Fatalf("POST /event with the brokers away = %+v, want %+v", got, want)
	}
	broker.Start(t)
	until("/ready with the brokers back", ready, httpReply{200, "", "ok\n"})
	if got := send(); got.status != http.StatusNoContent {
		t.Fatalf("POST /event with the brokers back = %+v", got)
	}
}
