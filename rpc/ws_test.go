package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

func dialWS(t *testing.T, sb *strmtest.Sandbox, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(sb.URL, "http:", "ws:", 1)+"/ws?asJson=true", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("frame type %v", typ)
	}
	return string(b)
}

// closeOf reads until the connection ends and returns how it was closed.
func closeOf(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Errorf("connection ended without a close frame: %v", err)
			return -1, ""
		}
		return ce.Code, ce.Reason
	}
}

func TestWebsocketEgress(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	mustAccept(t, src.Send(demoSchema, demo("before", 3)))

	// The tail starts at the end: "before" is not shown.
	srcWS := dialWS(t, sb, src.Token())
	derivedWS := dialWS(t, sb, derived.Token())
	mustAccept(t, src.Send(demoSchema, demo("s0"), demo("s1", 0), demo("s2", 2), demo("s3", 3)))

	for i, want := range []string{"s0", "s1", "s2", "s3"} {
		f := fields(t, readFrame(t, srcWS))
		if !isCiphertext(f["consistentValue"]) || f["notSensitiveValue"] != "plain-"+want {
			t.Errorf("source frame %d: %v", i, f)
		}
		meta := f["strmMeta"].(map[string]any)
		if meta["keyLink"] == nil || meta["nonce"] == nil {
			t.Errorf("source frame %d has no key link or nonce: %v", i, meta)
		}
	}
	// demo-2 keeps consent [2] and [3], with levels 1 and 2 decrypted.
	for _, want := range []string{"s2", "s3"} {
		f := fields(t, readFrame(t, derivedWS))
		if f["consistentValue"] != want || f["uniqueIdentifier"] != "unique-"+want || !isCiphertext(f["someSensitiveValue"]) {
			t.Errorf("derived frame: %v", f)
		}
	}

	// The server stopping closes the tails normally. (The clients read
	// meanwhile, as real ones do: Close waits for their answer to the close
	// frame, up to 5 s.)
	closed := make(chan string, 2)
	for _, c := range []*websocket.Conn{srcWS, derivedWS} {
		go func() {
			code, reason := closeOf(t, c)
			closed <- fmt.Sprint(code, " ", reason)
		}()
	}
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := <-closed; got != "StatusNormalClosure server stopping" {
			t.Errorf("close on stop: %s", got)
		}
	}
}

func TestWebsocketRefusals(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at))
	st := sb.CreateStream("demo")
	for _, tc := range []struct {
		name, token, want string
	}{
		{"no token", "", `{"error":"missing bearer token: get one from /auth/realms/streams/protocol/openid-connect/token with the stream's client id and secret"}` + "\n"},
		{"forged", forgedToken(st.Credentials.ClientId, t0.Add(time.Hour)), `{"error":"invalid token: not signed by this strmlocal server"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.token != "" {
				h.Set("Authorization", "Bearer "+tc.token)
			}
			_, res, err := websocket.Dial(context.Background(), strings.Replace(sb.URL, "http:", "ws:", 1)+"/ws", &websocket.DialOptions{HTTPHeader: h})
			if err == nil {
				t.Fatal("dial succeeded")
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 401 || string(body) != tc.want {
				t.Errorf("got %d %q", res.StatusCode, body)
			}
		})
	}

	// A token that expires while the tail runs closes it normally.
	// (Token times are whole seconds: minted at t0-1h+1s, it expires at
	// t0+1s.)
	at.t = t0.Add(-time.Hour + time.Second)
	token := st.Token()
	at.t = t0.Add(950 * time.Millisecond)
	c := dialWS(t, sb, token)
	if code, reason := closeOf(t, c); code != websocket.StatusNormalClosure || reason != "token expired: get a new token and reconnect" {
		t.Errorf("close on expiry: %d %q", code, reason)
	}
}

// signal is a log handler that reports one message.
type signal struct {
	msg string
	ch  chan struct{}
}

func (s *signal) Enabled(context.Context, slog.Level) bool { return true }
func (s *signal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == s.msg {
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (s *signal) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *signal) WithGroup(string) slog.Handler      { return s }

// A websocket client that never reads, with a small socket buffer, is
// disconnected once a frame waits longer than the write timeout.
func TestWebsocketClientThatNeverReads(t *testing.T) {
	sig := &signal{msg: "websocket client not reading: disconnected", ch: make(chan struct{}, 1)}
	sb := strmtest.New(t, strmtest.WithLogger(slog.New(sig)), func(o *rpc.Options) { o.WriteTimeout = 100 * time.Millisecond })
	st := sb.CreateStream("demo")

	conn, err := net.Dial("tcp", sb.Server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer "+st.Token()+"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	// From here on the client reads nothing.
	big := strings.Replace(demo("s", 1), `"plain-s"`, `"`+strings.Repeat("x", 200<<10)+`"`, 1)
	events := make([][]byte, 50) // 10 MB: more than the socket buffers hold
	for i := range events {
		events[i] = []byte(big)
	}
	sent, err := st.Events.SendEvents(context.Background(), connectReq(&v1.SendEventsRequest{
		Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: events,
	}))
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, sent.Msg.Results)
	select {
	case <-sig.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never gave up on the client")
	}
}

// A client that sends its headers too slowly is disconnected.
func TestSlowHeaders(t *testing.T) {
	sb := strmtest.New(t, func(o *rpc.Options) { o.ReadHeaderTimeout = 100 * time.Millisecond })
	conn, err := net.Dial("tcp", sb.Server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /event HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || len(got) != 0 {
		t.Errorf("slow client: read %q, %v; want the connection closed", got, err)
	}
}
