//lint:file-ignore SA1019 x/net's HTTP/2 transport is the one that sends :scheme https over h2c, as the Node driver does

package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// What @strmprivacy/nodejs-driver sends and reads, byte for byte, as its
// 3.0.0 source has it (2.0.0 for the legacy tokens); docs/compat.md. The
// driver speaks HTTP/2 with prior knowledge (node's http2.connect on an
// http: URL) and sets ":scheme: https" itself on every request, the token
// requests included; its egress is the ws package (7.x) over HTTP/1.1.

// nodeH2C is the driver's transport: HTTP/2 over a cleartext connection,
// ":scheme: https" (the request URL's scheme). The wire records what the
// client wrote.
func nodeH2C(t *testing.T) (*http.Client, *h2Wire) {
	w := &h2Wire{}
	c := &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			w.dials++
			return &teeConn{Conn: conn, w: w}, nil
		},
	}}
	t.Cleanup(c.CloseIdleConnections)
	return c, w
}

// h2Wire holds the bytes a client wrote on its connections.
type h2Wire struct {
	mu    sync.Mutex
	dials int
	sent  bytes.Buffer
}

type teeConn struct {
	net.Conn
	w *h2Wire
}

func (c *teeConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
	c.w.sent.Write(b)
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

// requests decodes the HEADERS frames the client sent on its one
// connection: one map of header fields per request.
func (w *h2Wire) requests(t *testing.T) []map[string]string {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dials != 1 {
		t.Fatalf("%d connections, want 1", w.dials)
	}
	b := w.sent.Bytes()
	if !bytes.HasPrefix(b, []byte(http2.ClientPreface)) {
		t.Fatalf("no HTTP/2 client preface: %q", b[:min(len(b), 24)])
	}
	fr := http2.NewFramer(nil, bytes.NewReader(b[len(http2.ClientPreface):]))
	var reqs []map[string]string
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return reqs
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := f.(*http2.HeadersFrame)
		if !ok {
			continue
		}
		if !h.HeadersEnded() {
			t.Fatal("a request's headers span CONTINUATION frames")
		}
		fields, err := dec.DecodeFull(h.HeaderBlockFragment())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range fields {
			m[f.Name] = f.Value
		}
		reqs = append(reqs, m)
	}
}

// driverPost posts as the driver's post() does: a body, its
// content-length, the headers given; it returns the status, the
// content-type and the body.
func driverPost(t *testing.T, c *http.Client, u, body string, header map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("%s: answered over %s, want HTTP/2", u, res.Proto)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// jsonKeys decodes a JSON object and returns it with its sorted keys.
func jsonKeys(t *testing.T, body string) (map[string]any, []string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %q: %v", body, err)
	}
	return m, keysOf(m)
}

func TestNodeDriverWire(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at))
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	id, secret := src.Credentials.ClientId, src.Credentials.ClientSecret
	base := strings.Replace(sb.URL, "http:", "https:", 1) // the :scheme the driver sends
	c, wire := nodeH2C(t)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	// The token request: the driver concatenates the form without encoding
	// it, which strmlocal's credentials (a UUID, base32) never need.
	status, ctype, body := driverPost(t, c, base+client.TokenPath,
		"grant_type=client_credentials&client_id="+id+"&client_secret="+secret, form)
	tok, keys := jsonKeys(t, body)
	if want := []string{"access_token", "expires_at", "expires_in", "refresh_expires_in", "refresh_token", "token_type"}; status != 200 || ctype != "application/json" || !slices.Equal(keys, want) {
		t.Fatalf("token: %d %q keys %v, want 200 application/json keys %v", status, ctype, keys, want)
	}
	// The driver reads access_token, refresh_token and expires_at, and
	// refreshes 60 s before expires_at (epoch seconds).
	if tok["expires_at"] != float64(t0.Add(time.Hour).Unix()) || tok["expires_in"] != float64(3600) ||
		tok["refresh_expires_in"] != float64(24*3600) || tok["token_type"] != "Bearer" {
		t.Errorf("token: %v", tok)
	}
	access := tok["access_token"].(string)

	// The refresh, as the driver sends it: its client credentials and the
	// refresh token, unencoded.
	at.t = t0.Add(59 * time.Minute)
	status, ctype, body = driverPost(t, c, base+client.TokenPath,
		"grant_type=refresh_token&client_id="+id+"&client_secret="+secret+"&refresh_token="+tok["refresh_token"].(string), form)
	fresh, keys := jsonKeys(t, body)
	if status != 200 || ctype != "application/json" || len(keys) != 6 || fresh["expires_at"] != float64(at.t.Add(time.Hour).Unix()) ||
		jwtClaims(t, fresh["access_token"].(string))["clientId"] != id {
		t.Errorf("refresh: %d %q %v", status, ctype, fresh)
	}
	at.t = t0
	// The driver stops retrying a refresh on 400 and 401, which is what a
	// bad refresh token and bad credentials get.
	status, ctype, body = driverPost(t, c, base+client.TokenPath,
		"grant_type=refresh_token&client_id="+id+"&client_secret=nope&refresh_token="+tok["refresh_token"].(string), form)
	if want := `{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}` + "\n"; status != 401 || ctype != "application/json" || body != want {
		t.Errorf("refresh with a wrong secret: %d %q %q, want 401 %q", status, ctype, body, want)
	}

	// POST /event, Avro binary, the driver's headers, one after the other
	// on one connection (the Sender keeps its session).
	event := map[string]string{
		"Content-Type":            "application/octet-stream",
		"Strm-Serialization-Type": "application/x-avro-binary",
		"Strm-Schema-Ref":         "strmprivacy/demo/1.0.2",
		"Authorization":           "Bearer " + access,
	}
	var bodies [][]byte
	for i, consent := range []int64{0, 2, 3} {
		s := fmt.Sprint("node-", i)
		body := avroDemo("strmprivacy/example/1.3.0", []int64{consent}, ptr("unique-"+s), ptr(s), ptr("sensitive-"+s), ptr("plain-"+s))
		bodies = append(bodies, body)
		if status, ctype, got := driverPost(t, c, base+"/event", string(body), event); status != 204 || ctype != "" || got != "" {
			t.Errorf("event %d: %d %q %q, want 204 and no body", i, status, ctype, got)
		}
	}
	// A refused event: the driver rejects with {status, data: body}.
	bad := avroDemo("strmprivacy/example/1.3.0", []int64{2}, nil, ptr(""), nil, nil)
	bodies = append(bodies, bad)
	want := "Field: 'consistentValue' in event with schema: 'strmprivacy/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"
	if status, ctype, got := driverPost(t, c, base+"/event", string(bad), event); status != 400 || ctype != "text/plain; charset=utf-8" || got != want {
		t.Errorf("invalid event: %d %q %q, want 400 %q", status, ctype, got, want)
	}
	// On the wire: one connection, every request ":scheme: https", the
	// driver's headers as they are (lower case, as HTTP/2 has them).
	reqs := wire.requests(t)
	if len(reqs) != 7 {
		t.Fatalf("%d requests on the wire, want 7", len(reqs))
	}
	for i, r := range reqs {
		if r["authorization"] == "Bearer "+access {
			r["authorization"] = "Bearer <the access token>" // not in the test's output
		}
		path := client.TokenPath
		if i >= 3 {
			path = "/event"
		}
		if r[":scheme"] != "https" || r[":method"] != "POST" || r[":path"] != path || r[":authority"] != sb.Server.Addr().String() {
			t.Errorf("request %d: %v", i, r)
		}
		if i >= 3 && (r["content-type"] != "application/octet-stream" || r["strm-serialization-type"] != "application/x-avro-binary" ||
			r["strm-schema-ref"] != "strmprivacy/demo/1.0.2" || r["authorization"] != "Bearer <the access token>" || r["content-length"] != fmt.Sprint(len(bodies[i-3]))) {
			t.Errorf("event request %d: %v", i, r)
		}
	}

	recs := src.Read()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, r := range recs {
		f := fields(t, r.Json)
		if r.SchemaRef != "strmprivacy/demo/1.0.2" || r.EventContractRef != "strmprivacy/example/1.3.0" ||
			!isCiphertext(f["consistentValue"]) || f["notSensitiveValue"] != fmt.Sprint("plain-node-", i) {
			t.Errorf("offset %d: %s %s %s", r.Offset, r.SchemaRef, r.EventContractRef, r.Json)
		}
	}
	// demo-2 keeps consent [2] and [3]; levels 1 and 2 are decrypted.
	view := derived.Read()
	if len(view) != 2 {
		t.Fatalf("derived: %d records, want 2", len(view))
	}
	for i, r := range view {
		s := fmt.Sprint("node-", i+1)
		if f := fields(t, r.Json); f["consistentValue"] != s || f["uniqueIdentifier"] != "unique-"+s ||
			!isCiphertext(f["someSensitiveValue"]) || f["notSensitiveValue"] != "plain-"+s {
			t.Errorf("derived offset %d: %s", r.Offset, r.Json)
		}
	}

	// The legacy login of drivers 2.x, over the same transport:
	// JSON.stringify of the config's fields, "application/json".
	t.Run("legacy 2.x", func(t *testing.T) {
		js := map[string]string{"Content-Type": "application/json"}
		status, ctype, body := driverPost(t, c, base+"/auth",
			`{"billingId":"billing-1","clientId":"`+id+`","clientSecret":"`+secret+`"}`, js)
		tok, keys := jsonKeys(t, body)
		if status != 200 || ctype != "application/json" || !slices.Equal(keys, []string{"expiresAt", "idToken", "refreshToken"}) ||
			tok["expiresAt"] != float64(t0.Add(time.Hour).Unix()) {
			t.Fatalf("/auth: %d %q %v", status, ctype, tok)
		}
		// The refresh sends back the whole token it holds, as received.
		at.t = t0.Add(30 * time.Minute)
		defer func() { at.t = t0 }()
		status, ctype, body = driverPost(t, c, base+"/refresh", body, js)
		fresh, keys := jsonKeys(t, body)
		if status != 200 || ctype != "application/json" || !slices.Equal(keys, []string{"expiresAt", "idToken", "refreshToken"}) ||
			fresh["expiresAt"] != float64(at.t.Add(time.Hour).Unix()) || jwtClaims(t, fresh["idToken"].(string))["clientId"] != id {
			t.Errorf("/refresh: %d %q %v", status, ctype, fresh)
		}
		// The Sender of 2.x sends "Bearer <idToken>".
		s := "legacy-node"
		body2 := avroDemo("strmprivacy/example/1.3.0", []int64{2}, ptr("unique-"+s), ptr(s), nil, nil)
		h := map[string]string{"Authorization": "Bearer " + fresh["idToken"].(string)}
		for k, v := range event {
			if k != "Authorization" {
				h[k] = v
			}
		}
		if status, _, got := driverPost(t, c, base+"/event", string(body2), h); status != 204 || got != "" {
			t.Errorf("event with the idToken: %d %q", status, got)
		}
	})

	// The Receiver: GET /ws?asJson=true on the derived stream's token, as
	// the ws package's client sends it, and JSON.parse of each text frame.
	t.Run("egress", func(t *testing.T) {
		ws := dialNodeWS(t, sb, derived.Token())
		mustAccept(t, src.Send(demoSchema, demo("ws-0", 1), demo("ws-1", 2), demo("ws-2", 3)))
		for _, s := range []string{"ws-1", "ws-2"} {
			op, payload := ws.frame(t)
			if op != 1 {
				t.Fatalf("frame opcode %d, want 1 (text)", op)
			}
			var ev map[string]any // what JSON.parse makes of it
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatalf("frame %q is not JSON: %v", payload, err)
			}
			meta, _ := ev["strmMeta"].(map[string]any)
			if ev["consistentValue"] != s || ev["uniqueIdentifier"] != "unique-"+s || !isCiphertext(ev["someSensitiveValue"]) ||
				ev["notSensitiveValue"] != "plain-"+s || meta["eventContractRef"] != "streammachine/example/1.3.0" {
				t.Errorf("frame: %s", payload)
			}
		}
		// disconnect(): ws's close() sends a close frame without a status;
		// the server answers it with one of its own.
		ws.send(t, 0x8, nil)
		if op, payload := ws.frame(t); op != 0x8 {
			t.Errorf("answer to the close: opcode %d %q, want a close frame", op, payload)
		}
	})
}

// nodeWS is a websocket client connection read frame by frame, as RFC 6455
// has them, independent of the websocket library the server uses.
type nodeWS struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialNodeWS upgrades GET /ws?asJson=true with the headers of the ws
// package's client (7.x, the driver's): it offers permessage-deflate,
// which strmlocal declines, and sends no Origin.
func dialNodeWS(t *testing.T, sb *strmtest.Sandbox, token string) *nodeWS {
	t.Helper()
	conn, err := net.Dial("tcp", sb.Server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	_, err = io.WriteString(conn, "GET /ws?asJson=true HTTP/1.1\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"+
		"Authorization: Bearer "+token+"\r\nHost: "+sb.Server.Addr().String()+"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) ||
		!strings.EqualFold(res.Header.Get("Upgrade"), "websocket") || res.Header.Values("Sec-WebSocket-Extensions") != nil {
		t.Fatalf("upgrade: %s %v", res.Status, res.Header)
	}
	return &nodeWS{conn: conn, r: r}
}

// frame reads one server frame: unmasked, final, no extension bits.
func (w *nodeWS) frame(t *testing.T) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
		t.Fatalf("frame header %08b %08b: want FIN, no RSV bits, unmasked", h[0], h[1])
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(w.r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(w.r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(w.r, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
}

// send writes a short masked client frame.
func (w *nodeWS) send(t *testing.T, op byte, payload []byte) {
	t.Helper()
	mask := [4]byte{1, 2, 3, 4}
	b := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	if _, err := w.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}
