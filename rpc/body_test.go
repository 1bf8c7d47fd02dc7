package rpc_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// rawRequest sends a request's head and the start of its body over
// HTTP/1.1, then stalls, and returns the answer and whether the server
// closed the connection after it.
func rawRequest(t *testing.T, addr, head, body string) (status int, text string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, err = br.ReadByte()
	return res.StatusCode, string(b), err == io.EOF
}

// Request bodies that arrive too slowly are cut off (100 of 100 slow
// clients were held for more than 30 s), and a declared Content-Length
// above the cap is refused before anything is read.
func TestRequestBodiesHaveADeadlineAndACap(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithMaxEventBytes(2048), func(o *rpc.Options) { o.BodyTimeout = 200 * time.Millisecond })
	st := sb.CreateStream("demo")
	addr := sb.Server.Addr().String()
	token := st.Token()
	const slow = "the request body did not arrive in time (at least 65536 bytes per second after the first seconds): send it faster or smaller"
	for _, tc := range []struct {
		name, head, body string
		status           int
		text             string
	}{
		{"token endpoint, slow", "POST " + client.TokenPath + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n", "grant_type",
			408, `{"error":"invalid_request","error_description":"` + slow + `"}` + "\n"},
		{"POST /event, slow", "POST /event HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nStrm-Schema-Ref: " + demoSchema + "\r\nContent-Length: 100\r\n", "{",
			408, slow},
		{"SendEvent, slow", "POST " + strmlocalv1connect.EventServiceSendEventProcedure + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/proto\r\nContent-Length: 100\r\n", "\x0a",
			504, `{"code":"deadline_exceeded","message":"` + slow + `"}`},
		{"token endpoint, 10 GiB", "POST " + client.TokenPath + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10737418240\r\n", "",
			413, `{"error":"invalid_request","error_description":"the body must be a form (application/x-www-form-urlencoded) of at most 64 KiB"}` + "\n"},
		{"POST /event, 10 GiB", "POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n", "",
			413, "event is larger than the limit of 2048 bytes (serve --max-event-size)"},
		{"SendEvent, 10 GiB", "POST " + strmlocalv1connect.EventServiceSendEventProcedure + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Length: 10737418240\r\n", "",
			413, `{"code":"resource_exhausted","message":"the request declares 10737418240 bytes, more than the server's limit of 67108864: send less per call"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, text, closed := rawRequest(t, addr, tc.head, tc.body)
			if status != tc.status || text != tc.text || !closed {
				t.Errorf("got %d %q (closed: %v)\nwant %d %q, closed", status, text, closed, tc.status, tc.text)
			}
		})
	}
}

// A body that keeps arriving at more than rpc.MinBodyRate is read to its
// end, however long past Options.BodyTimeout that takes: here 256 KiB in
// four pieces a quarter of a second apart, with a 300 ms timeout. (The
// bytes are no message, so the answer is Connect's refusal of them, which
// comes only once the whole body is in.)
func TestRequestBodiesArrivingSteadilyAreRead(t *testing.T) {
	sb := strmtest.New(t, func(o *rpc.Options) { o.BodyTimeout = 300 * time.Millisecond })
	st := sb.CreateStream("demo")
	conn, err := net.Dial("tcp", sb.Server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const piece, pieces = rpc.MinBodyRate, 4
	head := "POST " + strmlocalv1connect.EventServiceSendEventsProcedure + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + st.Token() +
		"\r\nContent-Type: application/proto\r\nContent-Length: " + strconv.Itoa(piece*pieces) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range pieces {
		if i > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		if _, err := conn.Write(bytes.Repeat([]byte{0xff}, piece)); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if took := time.Since(start); res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(b), `{"code":"invalid_argument"`) {
		t.Errorf("after %v: %d %s; want 400 invalid_argument", took, res.StatusCode, b)
	}
}
