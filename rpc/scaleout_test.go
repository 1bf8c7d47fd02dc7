package rpc_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
	so := strmtest.WithScaleOut(strmtest.ScaleOut{
		StateURL:  pgtest.NewDatabase(t, pgtest.Shared(t)),
		Brokers:   []string{kafkatest.Start(t).Addr},
		MasterKey: master,
	})
	g1, g2 := strmtest.New(t, so), strmtest.New(t, so)
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
