package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/sim"
)

// gateway is a fake of the compat surface's wire contract (docs/compat.md): it
// issues numbered tokens valid for ttl, and answers POST /event by the
// body: "ok" 204, "bad" 400, "big" 413, "boom" 500; a token it revoked
// gets 401.
type gateway struct {
	now func() time.Time
	ttl time.Duration

	mu      sync.Mutex
	issued  int
	revoked map[string]bool
	log     []string // what happened, in order
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch r.URL.Path {
	case "/auth/realms/streams/protocol/openid-connect/token":
		if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "client_credentials":
			if r.PostForm.Get("client_id") != "id" || r.PostForm.Get("client_secret") != "secret" {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error": "invalid_client", "error_description": "wrong client id or secret"}`)
				return
			}
			g.log = append(g.log, "client_credentials")
		case "refresh_token":
			g.log = append(g.log, "refresh "+r.PostForm.Get("refresh_token"))
		}
		g.issued++
		exp := g.now().Add(g.ttl)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("access-%d", g.issued), "refresh_token": fmt.Sprintf("refresh-%d", g.issued),
			"token_type": "Bearer", "expires_in": int(g.ttl.Seconds()), "expires_at": exp.Unix(),
		})
	case "/event":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		body, _ := io.ReadAll(r.Body)
		g.log = append(g.log, fmt.Sprintf("event %s %s %s %s", tok, r.Header.Get("Strm-Schema-Ref"), r.Header.Get("Strm-Serialization-Type"), body))
		if g.revoked[tok] {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": "token expired"}`)
			return
		}
		switch string(body) {
		case "ok":
			w.WriteHeader(http.StatusNoContent)
		case "bad":
			http.Error(w, "Field: 'url' in event with schema: 'a/b/1.0.0' with value: 'x' doesn't match regex: '^h'", http.StatusBadRequest)
		case "big":
			http.Error(w, "event is larger than the limit of 2 bytes (serve --max-event-size)", http.StatusRequestEntityTooLarge)
		default:
			http.Error(w, "internal error: see the server log", http.StatusInternalServerError)
		}
	default:
		http.NotFound(w, r)
	}
}

func (g *gateway) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.log
	g.log = nil
	return l
}

func TestHTTPSender(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	g := &gateway{now: clock, ttl: 5 * time.Minute, revoked: map[string]bool{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	s := &sim.HTTPSender{Client: sim.NewHTTPClient(2), URL: srv.URL, ClientID: "id", ClientSecret: "secret", Now: clock}

	send := func(json bool, bodies ...string) ([]sim.Result, error) {
		b := &sim.Batch{Schema: "a/b/1.0.0", JSON: json}
		for _, body := range bodies {
			b.Events = append(b.Events, []byte(body))
		}
		res := make([]sim.Result, len(bodies))
		return res, s.Send(t.Context(), b, res, new(sim.Histogram))
	}
	steps := []struct {
		name    string
		before  func()
		json    bool
		bodies  []string
		res     []sim.Result
		err     string
		gateway []string
	}{
		{name: "first token, then answers by status", bodies: []string{"ok", "bad", "big"},
			res: []sim.Result{{Accepted: true}, {Verdict: sim.Verdict{Rule: "regex", Field: "url"}}, {Verdict: sim.Verdict{Rule: "size"}}},
			gateway: []string{"client_credentials",
				"event access-1 a/b/1.0.0 application/x-avro-binary ok",
				"event access-1 a/b/1.0.0 application/x-avro-binary bad",
				"event access-1 a/b/1.0.0 application/x-avro-binary big"}},
		{name: "JSON", json: true, bodies: []string{"ok"}, res: []sim.Result{{Accepted: true}},
			gateway: []string{"event access-1 a/b/1.0.0 application/json ok"}},
		{name: "still valid 61s before expiry", before: func() { now = now.Add(3*time.Minute + 59*time.Second) },
			bodies: []string{"ok"}, res: []sim.Result{{Accepted: true}},
			gateway: []string{"event access-1 a/b/1.0.0 application/x-avro-binary ok"}},
		{name: "refreshed a minute before expiry", before: func() { now = now.Add(time.Second) },
			bodies: []string{"ok"}, res: []sim.Result{{Accepted: true}},
			gateway: []string{"refresh refresh-1", "event access-2 a/b/1.0.0 application/x-avro-binary ok"}},
		{name: "revoked token: new one, one retry", before: func() { g.revoked["access-2"] = true },
			bodies: []string{"ok"}, res: []sim.Result{{Accepted: true}},
			gateway: []string{"event access-2 a/b/1.0.0 application/x-avro-binary ok", "client_credentials", "event access-3 a/b/1.0.0 application/x-avro-binary ok"}},
		{name: "refused twice", before: func() { g.revoked["access-3"], g.revoked["access-4"] = true, true },
			bodies: []string{"ok"}, res: []sim.Result{{}},
			err:     "sim: credentials refused: POST /event answered 401 (token expired)",
			gateway: []string{"event access-3 a/b/1.0.0 application/x-avro-binary ok", "client_credentials", "event access-4 a/b/1.0.0 application/x-avro-binary ok"}},
		{name: "server error", bodies: []string{"boom"}, res: []sim.Result{{}},
			err: "POST /event answered 500 Internal Server Error: internal error: see the server log",
			// The sender still holds the refused access-4.
			gateway: []string{"event access-4 a/b/1.0.0 application/x-avro-binary boom", "client_credentials", "event access-5 a/b/1.0.0 application/x-avro-binary boom"}},
		{name: "wrong secret", before: func() { s.ClientSecret = "nope"; g.revoked["access-5"] = true }, bodies: []string{"ok"}, res: []sim.Result{{}},
			err:     "sim: credentials refused: the token endpoint answered 401 (invalid_client: wrong client id or secret)",
			gateway: []string{"event access-5 a/b/1.0.0 application/x-avro-binary ok"}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		res, err := send(st.json, st.bodies...)
		if got := fmt.Sprint(err); (st.err == "" && err != nil) || (st.err != "" && got != st.err) {
			t.Fatalf("%s: err %v, want %q", st.name, err, st.err)
		}
		if st.err != "" && !errors.Is(err, sim.ErrUnauthenticated) != !strings.HasPrefix(st.err, "sim: credentials refused") {
			t.Errorf("%s: errors.Is(ErrUnauthenticated) wrong for %v", st.name, err)
		}
		if !slices.Equal(res, st.res) {
			t.Errorf("%s: results %v, want %v", st.name, res, st.res)
		}
		if got := g.take(); !slices.Equal(got, st.gateway) {
			t.Errorf("%s: the gateway saw\n%q\nwant\n%q", st.name, got, st.gateway)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want sim.Verdict
	}{
		{"Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'url' doesn't match regex: '^(https?|ftp|file)://...'", sim.Verdict{Rule: "regex", Field: "url"}},
		// The value may hold the wording itself.
		{"Field: 'url' in event with schema: 's/s/1.0.0' with value: 'a' doesn't match regex: 'b' is not a valid consent level' doesn't match regex: '^x$'", sim.Verdict{Rule: "regex", Field: "url"}},
		{"Field: 'producerSessionId' in event with schema: 's/s/1.0.0' is the key field and must not be empty", sim.Verdict{Rule: "keyField", Field: "producerSessionId"}},
		{"Field: 'strmMeta/consentLevels' in event with schema: 's/s/1.0.0' with value: '-1' is not a valid consent level (must be an integer from 0 to 2147483647)", sim.Verdict{Rule: "consentLevels", Field: "strmMeta/consentLevels"}},
		{"Field: 'strmMeta/consentLevels' in event with schema: 's/s/1.0.0' holds more than 64 consent levels (at most 64 values, each from 0 to 1023)", sim.Verdict{Rule: "consentLevels", Field: "strmMeta/consentLevels"}},
		{"Field: 'strmMeta/eventContractRef' in event with schema: 's/s/1.0.0': event contract 'x/y/1.0.0' not found", sim.Verdict{Rule: "eventContract", Field: "strmMeta/eventContractRef"}},
		{"Field: 'strmMeta/eventContractRef' in event with schema: 's/s/1.0.0' must name an event contract", sim.Verdict{Rule: "eventContract", Field: "strmMeta/eventContractRef"}},
		{"event contract 'a/b/1.0.0' is for schema 'a/b/1.0.0', not for the event's schema 'c/d/1.0.0'", sim.Verdict{Rule: "schemaRef", Field: "strmMeta/eventContractRef"}},
		{"event does not match schema 's/s/1.0.0': field 'conversion': want an int", sim.Verdict{Rule: "decode", Field: "conversion"}},
		{"event does not match schema 's/s/1.0.0': unexpected end of data", sim.Verdict{Rule: "decode"}},
		{"event body is 2000000 bytes, over the limit of 1048576 bytes", sim.Verdict{Rule: "size"}},
		{"serialization JSON is not supported for AVRO schema 's/s/1.0.0'", sim.Verdict{Rule: "serialization"}},
		{"something else", sim.Verdict{Rule: "?"}},
	} {
		if got := sim.Classify(tc.msg); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
