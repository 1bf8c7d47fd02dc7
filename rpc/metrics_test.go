package rpc_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// scrape GETs /metrics and returns the status and the body.
func scrape(t *testing.T, sb *strmtest.Sandbox, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", sb.URL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// samples indexes the sample lines of a scrape by name and labels, as
// written: `name{a="x",b="y"}` → value.
func samples(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("sample line %q", line)
		}
		out[line[:i]] = line[i+1:]
	}
	return out
}

// metricsSession is the session (key field) of the events the metrics
// tests send: a value no label or sample may show.
const metricsSession = "pii-session-7f3a"

// sendMetricsTraffic sends to demo, through Connect and POST /event, three
// accepted events and five refused ones, reading the accepted ones back
// from a websocket tail.
func sendMetricsTraffic(t *testing.T, sb *strmtest.Sandbox, src *strmtest.Stream) {
	t.Helper()
	ws := dialWS(t, sb, src.Token())
	// Connect: two accepted (two sessions, two key links), one that does
	// not decode, one with consent out of range.
	res := src.Send(demoSchema,
		demo(metricsSession, 2),
		demo(metricsSession+"-b", 0, 1),
		`{"strmMeta": `,
		demo(metricsSession, 5000))
	var accepted []bool
	for _, r := range res {
		accepted = append(accepted, r.Accepted)
	}
	if want := []bool{true, true, false, false}; !equalBools(accepted, want) {
		t.Fatalf("accepted %v, want %v", accepted, want)
	}
	// POST /event: one accepted, one with a wrong token, one of a schema
	// that does not exist.
	token := src.Token()
	h1 := &http.Client{}
	post := func(auth, ref string) int {
		r := postEvent(t, h1, sb.URL+"/event", map[string]string{
			"Authorization": "Bearer " + auth, client.HeaderSchemaRef: ref, client.HeaderSerialization: "application/json",
		}, []byte(demo(metricsSession, 1)))
		return r.status
	}
	if got := []int{post(token, demoSchema), post("not-a-token", demoSchema), post(token, "acme/nothing/1.0.0")}; got[0] != 204 || got[1] != 401 || got[2] != 400 {
		t.Fatalf("POST /event statuses %v, want [204 401 400]", got)
	}
	for range 3 {
		if frame := readFrame(t, ws); !strings.Contains(frame, `"consentLevels"`) {
			t.Fatalf("ws frame %s", frame)
		}
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMetricsScrape(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithVirtualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	src := sb.CreateStream("demo")
	sb.CreateDerived("demo", 2)
	sb.CreateLocalConnector(t, "out")
	job := sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{})
	sendMetricsTraffic(t, sb, src)

	status, body := scrape(t, sb, "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	got := samples(t, body)
	want := map[string]string{
		`strmlocal_events_accepted_total{stream="demo"}`:                      "3",
		`strmlocal_events_rejected_total{reason="decode",stream="demo"}`:      "1",
		`strmlocal_events_rejected_total{reason="consent",stream="demo"}`:     "1",
		`strmlocal_events_rejected_total{reason="schema",stream="demo"}`:      "1",
		`strmlocal_events_rejected_total{reason="validation",stream="demo"}`:  "0",
		`strmlocal_events_rejected_total{reason="unauthenticated",stream=""}`: "1",
		`strmlocal_events_accepted_total{stream=""}`:                          "0",
		`strmlocal_ingest_duration_seconds_count{path="connect"}`:             "1",
		`strmlocal_ingest_duration_seconds_count{path="event"}`:               "2",
		`strmlocal_ingest_duration_seconds_count{path="cloudevents"}`:         "0",
		`strmlocal_egress_duration_seconds_count{path="read"}`:                "0",
		`strmlocal_egress_duration_seconds_count{path="tail"}`:                "0",
		`strmlocal_log_commit_records_count`:                                  "2",
		`strmlocal_log_commit_records_sum`:                                    "3",
		`strmlocal_log_commit_records_bucket{le="1"}`:                         "1",
		`strmlocal_log_commit_records_bucket{le="4"}`:                         "2",
		`strmlocal_log_commit_bytes_count`:                                    "2",
		`strmlocal_log_fsync_duration_seconds_count`:                          "2",
		`strmlocal_log_events{stream="demo"}`:                                 "3",
		`strmlocal_key_links{state="live"}`:                                   "2",
		`strmlocal_key_links{state="shredded"}`:                               "0",
		`strmlocal_websocket_subscribers`:                                     "1",
		`strmlocal_tail_subscribers`:                                          "0",
		`strmlocal_job_state{job="` + job + `",state="RUNNING"}`:              "1",
		`strmlocal_job_state{job="` + job + `",state="PAUSED"}`:               "0",
		`strmlocal_job_state{job="` + job + `",state="FAILED"}`:               "0",
		`strmlocal_job_lag_events{job="` + job + `"}`:                         "3",
		`strmlocal_job_errors_total{job="` + job + `"}`:                       "0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// The derived stream has no log of its own.
	if v, ok := got[`strmlocal_log_events{stream="demo-2"}`]; ok {
		t.Errorf("derived stream demo-2 has a log size sample: %s", v)
	}
	if n, err := strconv.ParseFloat(got[`strmlocal_log_bytes{stream="demo"}`], 64); err != nil || n <= 0 {
		t.Errorf("strmlocal_log_bytes{stream=\"demo\"} = %q, want a size above 0", got[`strmlocal_log_bytes{stream="demo"}`])
	}
	// The tail's steps are as the appends wake it: at least one, at most
	// one per event.
	if n, _ := strconv.Atoi(got[`strmlocal_egress_duration_seconds_count{path="ws"}`]); n < 1 || n > 3 {
		t.Errorf("ws egress count %q, want 1 to 3", got[`strmlocal_egress_duration_seconds_count{path="ws"}`])
	}

	// A read and a follow-less tail are egress too; the keys' retention
	// shreds both links once the clock passes it.
	if _, err := src.Egress.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{Limit: 10})); err != nil {
		t.Fatal(err)
	}
	tail, err := src.Egress.Tail(context.Background(), connect.NewRequest(&v1.TailRequest{Start: &v1.TailRequest_FromBeginning{FromBeginning: true}}))
	if err != nil {
		t.Fatal(err)
	}
	for tail.Receive() {
	}
	if err := tail.Err(); err != nil {
		t.Fatal(err)
	}
	sb.Advance(24*time.Hour + 7*24*time.Hour + time.Minute)
	_, body = scrape(t, sb, "")
	got = samples(t, body)
	for k, v := range map[string]string{
		`strmlocal_egress_duration_seconds_count{path="read"}`: "1",
		`strmlocal_egress_duration_seconds_count{path="tail"}`: "1",
		`strmlocal_tail_subscribers`:                           "0",
		`strmlocal_key_links{state="live"}`:                    "0",
		`strmlocal_key_links{state="shredded"}`:                "2",
		`strmlocal_job_lag_events{job="` + job + `"}`:          "0",
	} {
		if got[k] != v {
			t.Errorf("after the reads and the advance: %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestMetricsShowNoSecrets scans a whole scrape for the PII values, the
// credentials and the token the traffic carried.
func TestMetricsShowNoSecrets(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	sendMetricsTraffic(t, sb, src)
	token := src.Token()
	_, body := scrape(t, sb, "")
	for _, secret := range []string{
		metricsSession, "unique-" + metricsSession, "sensitive-" + metricsSession, "plain-" + metricsSession,
		src.Credentials.ClientId, src.Credentials.ClientSecret, token, "not-a-token",
	} {
		if strings.Contains(body, secret) {
			t.Errorf("GET /metrics shows %q", secret)
		}
	}
}

func TestMetricsAdminToken(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithAdminToken("admin-secret"))
	for _, tc := range []struct {
		token  string
		status int
		body   string
	}{
		{"", http.StatusUnauthorized, "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"},
		{"wrong", http.StatusUnauthorized, "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"},
		{"admin-secret", http.StatusOK, ""},
	} {
		status, body := scrape(t, sb, tc.token)
		if status != tc.status {
			t.Errorf("token %q: status %d, want %d", tc.token, status, tc.status)
		}
		if tc.body != "" && body != tc.body {
			t.Errorf("token %q: body %q, want %q", tc.token, body, tc.body)
		}
		if tc.status == http.StatusOK && !strings.Contains(body, "\nstrmlocal_key_links{state=\"live\"} 0\n") {
			t.Errorf("token %q: no key link gauge in %s", tc.token, body)
		}
	}
	// Health stays open.
	for _, path := range []string{"/is-alive", "/ready"} {
		res, err := http.Get(sb.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200", path, res.StatusCode)
		}
	}
}
