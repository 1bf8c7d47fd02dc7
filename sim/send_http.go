package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
)

// ErrUnauthenticated: the server refused the stream's credentials or token.
var ErrUnauthenticated = errors.New("sim: credentials refused")

// HTTPSender sends events the way the STRM drivers do (docs/compat.md): one
// POST /event per event with a bearer token from the OAuth2 token endpoint,
// refreshed before it expires. It proves the compat surface under load; use
// a Client whose transport keeps at least Options.Concurrency idle
// connections per host (NewHTTPClient), or every request pays a new
// connection.
type HTTPSender struct {
	Client                 *http.Client
	URL                    string // the server's base URL
	ClientID, ClientSecret string
	// Now is the clock token expiry is judged by. Default time.Now.
	Now func() time.Time

	mu  sync.Mutex // held while fetching a token: one fetch for all senders
	tok token
}

type token struct {
	access, refresh string
	renewAt         time.Time
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExpiresAt    int64  `json:"expires_at"`
}

func (s *HTTPSender) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *HTTPSender) Send(ctx context.Context, b *Batch, res []Result, lat *Histogram) error {
	ser := engine.ContentTypeAvroBinary
	if b.JSON {
		ser = engine.ContentTypeJSON
	}
	for i, body := range b.Events {
		r, err := s.post(ctx, b.Schema, ser, body, lat)
		if err != nil {
			return err
		}
		res[i] = r
	}
	return nil
}

// post sends one event. A 401 gets one retry with a new token (the token
// may have been revoked or the server restarted); a second is an error.
func (s *HTTPSender) post(ctx context.Context, schema, ser string, body []byte, lat *Histogram) (Result, error) {
	stale := ""
	for {
		tok, err := s.token(ctx, stale)
		if err != nil {
			return Result{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/event", bytes.NewReader(body))
		if err != nil {
			return Result{}, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set(client.HeaderSchemaRef, schema)
		req.Header.Set(client.HeaderSerialization, ser)
		req.Header.Set("Content-Type", ser)
		start := time.Now()
		resp, err := s.Client.Do(req)
		if err != nil {
			return Result{}, err
		}
		msg, err := readBody(resp)
		lat.Record(time.Since(start))
		if err != nil {
			return Result{}, err
		}
		switch resp.StatusCode {
		case http.StatusNoContent, http.StatusOK:
			return Result{Accepted: true}, nil
		case http.StatusBadRequest:
			return Result{Verdict: Classify(string(msg))}, nil
		case http.StatusRequestEntityTooLarge:
			return Result{Verdict: Verdict{Rule: "size"}}, nil
		case http.StatusUnauthorized:
			if stale == "" {
				stale = tok
				continue
			}
			return Result{}, fmt.Errorf("%w: POST /event answered 401 (%s)", ErrUnauthenticated, jsonError(msg))
		}
		return Result{}, fmt.Errorf("POST /event answered %s: %s", resp.Status, firstLine(msg))
	}
}

// readBody reads a (short) answer and closes the body, so that the
// connection goes back to the pool.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return msg, err
}

// token returns the access token to use: the current one, unless it is due
// for renewal or is stale (refused by the server). Renewal tries the
// refresh grant first, then client credentials.
func (s *HTTPSender) token(ctx context.Context, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.access != "" && s.tok.access != stale && s.now().Before(s.tok.renewAt) {
		return s.tok.access, nil
	}
	if s.tok.refresh != "" && s.tok.access != stale {
		if err := s.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.tok.refresh}}); err == nil {
			return s.tok.access, nil
		}
	}
	err := s.grant(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}})
	return s.tok.access, err
}

// grant asks the token endpoint for a token. REQUIRES: s.mu held.
func (s *HTTPSender) grant(ctx context.Context, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+client.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	body, err := readBody(resp)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: the token endpoint answered %d (%s)", ErrUnauthenticated, resp.StatusCode, jsonError(body))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("token endpoint answered %s: %s", resp.Status, firstLine(body))
	}
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return fmt.Errorf("token endpoint answered without an access_token: is %s a strmlocal server?", s.URL)
	}
	now := s.now()
	expires := now.Add(time.Duration(t.ExpiresIn) * time.Second)
	if t.ExpiresAt > 0 {
		expires = time.Unix(t.ExpiresAt, 0)
	}
	// Renew a minute before expiry, or halfway for short-lived tokens, so
	// that no request goes out with a token about to lapse.
	margin := min(time.Minute, expires.Sub(now)/2)
	s.tok = token{access: t.AccessToken, refresh: t.RefreshToken, renewAt: expires.Add(-margin)}
	return nil
}

// jsonError is the "error" of a JSON error answer, or its first line.
func jsonError(body []byte) string {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		if e.ErrorDescription != "" {
			return e.Error + ": " + e.ErrorDescription
		}
		return e.Error
	}
	return firstLine(body)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Classify recovers the rule and field from a rejection message in the STRM
// wording, which is all the compat surface answers (a plain-text 400, the
// same text as the Connect Verdict.error). Unknown wording gives rule "?".
//
//	Field: 'url' in event with schema: 's' with value: 'v' doesn't match regex: '...'  → regex url
//	Field: 'k' in event with schema: 's' is the key field and must not be empty        → keyField k
//	Field: 'strmMeta/consentLevels' in event with schema: 's' with value: '-1' is not a valid consent level (...) → consentLevels
//	Field: 'strmMeta/eventContractRef' in event with schema: 's': ...                  → eventContract
//	event contract 'c' is for schema 'a', not for the event's schema 'b'               → schemaRef
//	event does not match schema 's': field 'conversion': ...                           → decode conversion
//	event body is N bytes, over the limit of M bytes                                   → size
//	serialization X is not supported for ...                                           → serialization
func Classify(msg string) Verdict {
	switch {
	case strings.HasPrefix(msg, "Field: '"):
		field, rest, ok := strings.Cut(msg[len("Field: '"):], "' in event with schema: '")
		if !ok {
			break
		}
		_, rest, ok = strings.Cut(rest, "'")
		if !ok {
			break
		}
		switch {
		case strings.HasPrefix(rest, " holds more than ") && strings.Contains(rest, " consent levels"):
			return Verdict{Rule: "consentLevels", Field: field}
		case strings.HasPrefix(rest, " is the key field"):
			return Verdict{Rule: "keyField", Field: field}
		case field == "strmMeta/eventContractRef" && (strings.HasPrefix(rest, ": ") || strings.HasPrefix(rest, " must name")):
			return Verdict{Rule: "eventContract", Field: field}
		case strings.HasPrefix(rest, " with value: '"):
			// The value is quoted as sent and may hold anything: the
			// wording that ends the message wins.
			consent := strings.LastIndex(rest, "' is not a valid consent level")
			match := strings.LastIndex(rest, "' doesn't match ")
			switch {
			case consent > match:
				return Verdict{Rule: "consentLevels", Field: field}
			case match >= 0:
				rule, _, _ := strings.Cut(rest[match+len("' doesn't match "):], ":")
				return Verdict{Rule: rule, Field: field}
			}
		}
	case strings.HasPrefix(msg, "event contract '") && strings.Contains(msg, "' is for schema '"):
		return Verdict{Rule: "schemaRef", Field: "strmMeta/eventContractRef"}
	case strings.HasPrefix(msg, "event does not match schema '"):
		_, rest, _ := strings.Cut(msg[len("event does not match schema '"):], "': ")
		if f, ok := strings.CutPrefix(rest, "field '"); ok {
			field, _, _ := strings.Cut(f, "'")
			return Verdict{Rule: "decode", Field: field}
		}
		return Verdict{Rule: "decode"}
	case strings.HasPrefix(msg, "event body is "):
		return Verdict{Rule: "size"}
	case strings.HasPrefix(msg, "serialization "):
		return Verdict{Rule: "serialization"}
	}
	return Verdict{Rule: "?"}
}

// NewHTTPClient returns a client for a run with conns requests in flight:
// HTTP/1.1 keep-alive with that many idle connections per host (the
// default transport keeps 2, and the others would be re-dialled for every
// request).
func NewHTTPClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(conns, 2)
	t.MaxIdleConns = max(t.MaxIdleConns, conns)
	return &http.Client{Transport: t}
}
