package cloudevents_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/cloudevents"
)

func TestCloudEventsConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  cloudevents.Config
		want string
	}{
		{cloudevents.Config{URL: "http://127.0.0.1:8080/hook?k=v"}, ""},
		{cloudevents.Config{URL: "https://h/p", Username: "u", Password: "p", Headers: map[string]string{"X-Tenant": "t"}}, ""},
		{cloudevents.Config{URL: "ftp://h/p"}, `url: want an http:// or https:// URL with a host, got "ftp://h/p"`},
		{cloudevents.Config{URL: "http:///p?key=secret"}, `url: want an http:// or https:// URL with a host, got "http:///p?…"`},
		{cloudevents.Config{URL: "https://user:secret@h/p"}, "url: want no user info (user:password@) in the URL: use username and password"},
		{cloudevents.Config{URL: "https://h/p#x"}, `url: want no fragment (#…), got "https://h/p#x"`},
		{cloudevents.Config{URL: "https://h", BearerToken: "t", Username: "u"}, "bearerToken: give a bearer token or basic auth (username and password), not both"},
		{cloudevents.Config{URL: "https://h", Password: "p"}, "username: want the user name that goes with password, got none"},
		{cloudevents.Config{URL: "https://h", Username: "a:b"}, `username: want no ':' in a basic auth user name, got "a:b"`},
		{cloudevents.Config{URL: "https://h", BearerToken: "a\nb"}, "bearerToken: want a token without spaces or control characters"},
		{cloudevents.Config{URL: "https://h", Headers: map[string]string{"authorization": "x"}}, "headers: Authorization is set by the connector (bearerToken, username and password) and the CloudEvent, not by headers"},
		{cloudevents.Config{URL: "https://h", Headers: map[string]string{"ce-type": "x"}}, "headers: Ce-Type: ce- headers carry the CloudEvent's attributes"},
		{cloudevents.Config{URL: "https://h", Headers: map[string]string{"a b": "x"}}, `headers: "a b" is not a header name`},
		{cloudevents.Config{URL: "https://h", Headers: map[string]string{"X-A": "x\r\ny"}}, "headers: the value of X-A has control characters"},
	} {
		err := c.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.cfg, got, c.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("the message shows a secret: %s", got)
		}
	}
}

func message(id string) exporter.Message {
	return exporter.Message{Key: "link", Value: []byte(`{"a":1}`), Time: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		Attrs: []exporter.Attr{{Key: "id", Value: id}, {Key: "source", Value: "strmlocal://x/streams/s"}, {Key: "type", Value: "t"}, {Key: "strmoffset", Value: "7"}}}
}

// Each answer of a webhook is the error it should be: 2xx nothing, 408,
// 429 and 5xx ErrUnavailable (with Retry-After), other 4xx ErrPermanent
// with the status and the start of the body.
func TestCloudEventsPublishErrors(t *testing.T) {
	var mu sync.Mutex
	var status int
	var header, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if header != "" {
			k, v, _ := strings.Cut(header, ": ")
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	ep, err := cloudevents.New(cloudevents.Config{URL: srv.URL + "/hook?key=secret"})
	if err != nil {
		t.Fatal(err)
	}
	p := ep.Publisher(cloudevents.Mode{})
	defer p.Close()
	where := "webhook " + srv.URL + "/hook?…"
	long := strings.Repeat("é", 200) // 400 bytes
	for _, c := range []struct {
		status       int
		header, body string
		kind         error
		retryAfter   time.Duration
		msg          string
	}{
		{200, "", "", nil, 0, ""},
		{202, "", "", nil, 0, ""},
		{500, "", "boom\n", exporter.ErrUnavailable, -1, where + ": post event e-1: HTTP 500 Internal Server Error: boom"},
		{503, "Retry-After: 7", "", exporter.ErrUnavailable, 7 * time.Second, where + ": post event e-1: HTTP 503 Service Unavailable: (no body) (Retry-After: 7s)"},
		{429, "Retry-After: " + time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), "slow down", exporter.ErrUnavailable, time.Hour, ""},
		{408, "", "", exporter.ErrUnavailable, -1, where + ": post event e-1: HTTP 408 Request Timeout: (no body)"},
		{400, "", "bad type", exporter.ErrPermanent, -1, where + ": post event e-1: HTTP 400 Bad Request: bad type"},
		{404, "", long, exporter.ErrPermanent, -1, where + ": post event e-1: HTTP 404 Not Found: " + strings.Repeat("é", 150) + "…"},
		{302, "Location: https://elsewhere/x?k=secret", "", exporter.ErrRefused, -1, where + ": post event e-1: HTTP 302 Found: redirected to https://elsewhere/x?…: redirects are not followed; set url to where it points"},
	} {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			mu.Lock()
			status, header, body = c.status, c.header, c.body
			mu.Unlock()
			err := p.Publish(context.Background(), []exporter.Message{message("e-1")})
			if c.kind == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("error %v, want %v", err, c.kind)
			}
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("error\n got %s\nwant %s", err, c.msg)
			}
			ra, ok := exporter.RetryAfter(err)
			switch {
			case c.retryAfter < 0 && ok:
				t.Errorf("Retry-After %s, want none", ra)
			case c.retryAfter == time.Hour && (ra < 59*time.Minute || ra > time.Hour):
				t.Errorf("Retry-After %s, want about an hour", ra)
			case c.retryAfter >= 0 && c.retryAfter != time.Hour && ra != c.retryAfter:
				t.Errorf("Retry-After %s, want %s", ra, c.retryAfter)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the message shows the query: %s", err)
			}
		})
	}

	// Unreachable: ErrUnavailable, the URL without its query.
	srv.Close()
	p.Close() // else a kept-alive connection answers EOF
	err = p.Publish(context.Background(), []exporter.Message{message("e-1")})
	if !errors.Is(err, exporter.ErrUnavailable) || !strings.HasPrefix(err.Error(), where+": post event e-1: dial tcp ") {
		t.Errorf("unreachable: %v", err)
	}
}

// A Publish in batch mode splits its messages into requests of Batch
// events in the JSON batch format; the credentials and headers go with
// every request.
func TestCloudEventsPublishBatches(t *testing.T) {
	var mu sync.Mutex
	var got [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if u != "user" || p != "pw" || r.Header.Get("X-Tenant") != "t1" || r.Header.Get("Content-Type") != "application/cloudevents-batch+json" {
			http.Error(w, "bad request headers", http.StatusBadRequest)
			return
		}
		events, err := cehttp.NewEventsFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ids []string
		for _, e := range events {
			ids = append(ids, e.ID()+"/"+string(e.Data())+"/"+fmt.Sprint(e.Extensions()["strmoffset"]))
		}
		mu.Lock()
		got = append(got, ids)
		mu.Unlock()
	}))
	defer srv.Close()
	ep, err := cloudevents.New(cloudevents.Config{URL: srv.URL, Username: "user", Password: "pw", Headers: map[string]string{"x-tenant": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	p := ep.Publisher(cloudevents.Mode{Batch: 2})
	if err := p.Publish(context.Background(), []exporter.Message{message("a"), message("b"), message("c")}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([][]string{{`a/{"a":1}/7`, `b/{"a":1}/7`}, {`c/{"a":1}/7`}})
	if fmt.Sprint(got) != want {
		t.Errorf("requests %v, want %s", got, want)
	}
	if s := p.String(); s != "webhook "+srv.URL+" (batches of up to 2)" {
		t.Errorf("String: %s", s)
	}
}

// Test asks with OPTIONS, falls back to HEAD, and says what answered.
func TestCloudEventsEndpointTest(t *testing.T) {
	var options, head int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/options" && r.Method == http.MethodOptions:
			if r.Header.Get("WebHook-Request-Origin") != "strmlocal" {
				http.Error(w, "no origin", http.StatusBadRequest)
				return
			}
			w.Header().Set("Allow", "POST")
			w.Header().Set("WebHook-Allowed-Origin", "strmlocal")
		case r.URL.Path == "/head" && r.Method == http.MethodOptions:
			options++
			w.WriteHeader(http.StatusMethodNotAllowed)
		case r.URL.Path == "/head" && r.Method == http.MethodHead:
			head++
		case r.URL.Path == "/private":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	test := func(path string) (string, error) {
		ep, err := cloudevents.New(cloudevents.Config{URL: srv.URL + path, BearerToken: "tok"})
		if err != nil {
			t.Fatal(err)
		}
		return ep.Test(context.Background())
	}
	for _, c := range []struct {
		path, want string
		kind       error
	}{
		{"/options", "webhook " + srv.URL + "/options answered OPTIONS with HTTP 200 OK (Allow: POST; WebHook-Allowed-Origin: strmlocal)", nil},
		{"/head", "webhook " + srv.URL + "/head answered HEAD with HTTP 200 OK", nil},
		{"/private", "webhook " + srv.URL + "/private: HTTP 401 Unauthorized: the credentials were refused (bearerToken, username and password)", exporter.ErrRefused},
		{"/nothing", "webhook " + srv.URL + "/nothing: HTTP 404 Not Found: nothing is there: check url", exporter.ErrRefused},
		{"/down", "webhook " + srv.URL + "/down: HTTP 502 Bad Gateway: try again later", exporter.ErrUnavailable},
	} {
		got, err := test(c.path)
		if err != nil {
			got = err.Error()
		}
		if got != c.want || !errors.Is(err, c.kind) && c.kind != nil || c.kind == nil && err != nil {
			t.Errorf("%s:\n got %s (%v)\nwant %s", c.path, got, err, c.want)
		}
	}
	if options != 1 || head != 1 {
		t.Errorf("OPTIONS %d, HEAD %d, want 1 and 1", options, head)
	}
}
