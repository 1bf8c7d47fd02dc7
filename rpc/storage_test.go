package rpc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/tmpfs"
	"github.com/strmlocal/strmlocal/strmtest"
)

func getReady(t *testing.T, url string) httpReply {
	t.Helper()
	res, err := http.Get(url + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return httpReply{res.StatusCode, res.Header.Get("Content-Type"), string(b)}
}

// TestStorageFullRecovers: after ENOSPC the server stayed broken until a
// restart while /ready answered 200, and producers got 500s naming the WAL
// file. On a full disk /ready answers 503 with the reason, POST /event 503
// "storage full: ..." and Connect ResourceExhausted, naming no file; once
// space is back, writes resume by themselves.
func TestStorageFullRecovers(t *testing.T) {
	root := tmpfs.Mount(t, 48<<20)
	sb := strmtest.New(t, strmtest.WithDataDir(root+"/data"))
	src := sb.CreateStream("demo")
	event := demo("session-1", 2)
	hdr := map[string]string{"Authorization": "Bearer " + src.Token(), "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json"}
	const plain = "text/plain; charset=utf-8"
	if got := postEvent(t, http.DefaultClient, sb.URL+"/event", hdr, []byte(event)); got.status != http.StatusNoContent {
		t.Fatalf("POST /event before: %+v", got)
	}
	if got, want := getReady(t, sb.URL), (httpReply{200, plain, "ok\n"}); got != want {
		t.Fatalf("/ready before: %+v, want %+v", got, want)
	}

	free := tmpfs.Fill(t, root)
	const full = "storage full: the disk of the data dir has 0 B free, below the 16.0 MiB strmlocal keeps free; free some space and writes resume by themselves"
	if got, want := getReady(t, sb.URL), (httpReply{503, plain, full + "\n"}); got != want {
		t.Fatalf("/ready on a full disk: %+v, want %+v", got, want)
	}
	if got, want := postEvent(t, http.DefaultClient, sb.URL+"/event", hdr, []byte(event)), (httpReply{503, plain, full}); got != want {
		t.Fatalf("POST /event on a full disk: %+v, want %+v", got, want)
	}
	_, err := src.Events.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
		SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(event)},
	}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Message() != full {
		t.Fatalf("SendEvents on a full disk: %v, want resource_exhausted: %s", err, full)
	}
	if strings.Contains(err.Error(), root) {
		t.Fatalf("the error names a file: %v", err)
	}

	free()
	if got, want := getReady(t, sb.URL), (httpReply{200, plain, "ok\n"}); got != want {
		t.Fatalf("/ready after space came back: %+v, want %+v", got, want)
	}
	if got := postEvent(t, http.DefaultClient, sb.URL+"/event", hdr, []byte(event)); got.status != http.StatusNoContent {
		t.Fatalf("POST /event after space came back: %+v", got)
	}
	if res := src.Send(demoSchema, event); !res[0].Accepted {
		t.Fatalf("SendEvents after space came back: %+v", res[0])
	}
	if n := len(src.Read()); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
}
