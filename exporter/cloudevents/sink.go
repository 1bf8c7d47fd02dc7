package cloudevents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"golang.org/x/net/http/httpguts"

	"github.com/strmlocal/strmlocal/exporter"
)

// Config is the config of an http connector.
type Config struct {
	// URL is where events are POSTed: http:// or https://, with a path and
	// a query if the endpoint wants them. Messages show it without its
	// query, which may hold a key.
	URL string `json:"url"`
	// BearerToken is sent as Authorization: Bearer <token>. A secret.
	BearerToken string `json:"bearerToken,omitempty"`
	// Username and Password are sent as HTTP basic auth; Password is a
	// secret. Not with BearerToken.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Headers are sent with every request. Not Authorization, Content-Type,
	// Content-Length, Host or ce-* headers: those say what the connector
	// and the CloudEvent say.
	Headers map[string]string `json:"headers,omitempty"`
}

// Schema is the JSON Schema of Config. Validate checks the rest.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "http data connector",
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {
      "type": "string",
      "pattern": "^https?://[^/?#@\\s]+([/?][^#\\s]*)?$",
      "description": "Where events are POSTed, e.g. http://broker-ingress.knative-eventing.svc.cluster.local/default/default or https://hooks.example.com/events; no user info (user:password@): use username and password."
    },
    "bearerToken": {
      "type": "string",
      "minLength": 1,
      "description": "Sent as Authorization: Bearer <token>; a secret, never shown. Not with username and password."
    },
    "username": {
      "type": "string",
      "minLength": 1,
      "description": "The user of HTTP basic auth."
    },
    "password": {
      "type": "string",
      "description": "The password of HTTP basic auth; a secret, never shown."
    },
    "headers": {
      "type": "object",
      "additionalProperties": {"type": "string"},
      "description": "Headers sent with every request (not Authorization, Content-Type, Content-Length, Host or ce-* headers). They are shown: put secrets in bearerToken or password."
    }
  }
}`

// Secrets are the secret fields of Config, by their JSON names.
var Secrets = []string{"bearerToken", "password"}

// reservedHeaders are the headers Config.Headers may not set.
var reservedHeaders = []string{"Authorization", "Connection", "Content-Length", "Content-Type", "Host", "Transfer-Encoding"}

// Validate checks what the schema cannot. Its messages name the field and
// never show a secret.
func (c Config) Validate() error {
	if _, err := parseURL(c.URL); err != nil {
		return err
	}
	switch {
	case c.BearerToken != "" && (c.Username != "" || c.Password != ""):
		return errors.New("bearerToken: give a bearer token or basic auth (username and password), not both")
	case c.Password != "" && c.Username == "":
		return errors.New("username: want the user name that goes with password, got none")
	case strings.Contains(c.Username, ":"):
		return fmt.Errorf("username: want no ':' in a basic auth user name, got %q", c.Username)
	case !httpguts.ValidHeaderFieldValue(c.BearerToken) || strings.ContainsAny(c.BearerToken, " \t"):
		return errors.New("bearerToken: want a token without spaces or control characters")
	}
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		canon := http.CanonicalHeaderKey(k)
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return fmt.Errorf("headers: %q is not a header name", k)
		case slices.Contains(reservedHeaders, canon):
			return fmt.Errorf("headers: %s is set by the connector (bearerToken, username and password) and the CloudEvent, not by headers", canon)
		case strings.HasPrefix(canon, "Ce-"):
			return fmt.Errorf("headers: %s: ce- headers carry the CloudEvent's attributes", canon)
		case !httpguts.ValidHeaderFieldValue(c.Headers[k]):
			return fmt.Errorf("headers: the value of %s has control characters", canon)
		}
	}
	return nil
}

// parseURL parses the URL of a Config.
func parseURL(s string) (*url.URL, error) {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		// Refused without repeating it: it holds a password.
		return nil, errors.New("url: want no user info (user:password@) in the URL: use username and password")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("url: want an http:// or https:// URL with a host, got %q", redact(s))
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("url: want no fragment (#…), got %q", redact(s))
	}
	return u, nil
}

// redact is a URL for messages: without its query, which may hold a key
// (Azure Event Grid's aeg-sas-key, say).
func redact(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}

// RequestTimeout bounds one request, from dialling to the end of the
// answer's headers and of the part of its body that is read.
const RequestTimeout = 30 * time.Second

// maxBodyShown is how much of a refusal's body goes in the error.
const maxBodyShown = 300

// Endpoint is the HTTP endpoint of an http connector. It is safe for
// concurrent use.
type Endpoint struct {
	url     string
	where   string // "webhook <url without its query>"
	auth    string // the Authorization header, if any
	headers http.Header
	client  *http.Client
}

// New returns the endpoint of c; it connects nowhere (see Test).
func New(c Config) (*Endpoint, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Endpoint{url: c.URL, where: "webhook " + redact(c.URL), headers: http.Header{}}
	switch {
	case c.BearerToken != "":
		e.auth = "Bearer " + c.BearerToken
	case c.Username != "":
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.Username, c.Password)
		e.auth = r.Header.Get("Authorization")
	}
	for k, v := range c.Headers {
		e.headers.Set(k, v)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	e.client = &http.Client{
		Transport: t,
		Timeout:   RequestTimeout,
		// A redirect is answered as it is: a POST is not to be turned
		// into a GET, nor its credentials sent elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e, nil
}

// String names the endpoint in messages: "webhook https://host/path"
// (the query hidden); never a secret.
func (e *Endpoint) String() string { return e.where }

// Close closes the endpoint's idle connections.
func (e *Endpoint) Close() { e.client.CloseIdleConnections() }

// newRequest is a request to the endpoint with its headers and
// credentials.
func (e *Endpoint) newRequest(ctx context.Context, method string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "strmlocal") // unless headers say otherwise
	for k, v := range e.headers {
		req.Header[k] = v
	}
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	return req, nil
}

// Test asks the endpoint what it takes, with an OPTIONS request (the
// CloudEvents webhook validation request), or HEAD if it answers 405 or
// 501, and says what answered. An endpoint that refuses the credentials
// or is not there (401, 403, 404, 410) is exporter.ErrRefused; one that
// cannot be reached or answers 408, 429 or a 5xx, exporter.ErrUnavailable.
func (e *Endpoint) Test(ctx context.Context) (string, error) {
	method := http.MethodOptions
	res, err := e.probe(ctx, method)
	if err == nil && (res.StatusCode == http.StatusMethodNotAllowed || res.StatusCode == http.StatusNotImplemented) {
		method = http.MethodHead
		res, err = e.probe(ctx, method)
	}
	if err != nil {
		return "", err
	}
	var details []string
	for _, h := range []string{"Allow", "WebHook-Allowed-Origin", "WebHook-Allowed-Rate", "Server"} {
		if v := res.Header.Get(h); v != "" {
			details = append(details, h+": "+v)
		}
	}
	msg := fmt.Sprintf("%s answered %s with HTTP %s", e, method, res.Status)
	if len(details) > 0 {
		msg += " (" + strings.Join(details, "; ") + ")"
	}
	switch c := res.StatusCode; {
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return "", &exporter.Error{Where: e.where, Code: "HTTP " + res.Status, Kind: exporter.ErrRefused, Err: errors.New("the credentials were refused (bearerToken, username and password)")}
	case c == http.StatusNotFound || c == http.StatusGone:
		return "", &exporter.Error{Where: e.where, Code: "HTTP " + res.Status, Kind: exporter.ErrRefused, Err: errors.New("nothing is there: check url")}
	case retryable(c):
		return "", &exporter.Error{Where: e.where, Code: "HTTP " + res.Status, Kind: exporter.ErrUnavailable, Err: errors.New("try again later")}
	case method == http.MethodHead && c == http.StatusMethodNotAllowed:
		msg += ": it takes POST only, as webhooks do"
	}
	return msg, nil
}

// probe sends a bodiless request and reads the answer's headers.
func (e *Endpoint) probe(ctx context.Context, method string) (*http.Response, error) {
	req, err := e.newRequest(ctx, method)
	if err != nil {
		return nil, err
	}
	if method == http.MethodOptions {
		// The CloudEvents webhook spec's validation request.
		req.Header.Set("WebHook-Request-Origin", "strmlocal")
	}
	res, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fail := e.netError(ctx, "", "", err).(*exporter.Error)
		fail.Err = fmt.Errorf("%s: %w", method, fail.Err)
		return nil, fail
	}
	drain(res.Body)
	return res, nil
}

// netError is a request that got no answer.
func (e *Endpoint) netError(ctx context.Context, op, name string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Drop `Post "url"`: Where says it, without its query.
		err = ue.Err
	}
	return &exporter.Error{Where: e.where, Op: op, Name: name, Kind: exporter.ErrUnavailable, Err: err}
}

// drain reads a little of what is left of a body (so that the connection
// is reused) and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	_ = body.Close()
}

// retryable is a status worth trying again: 408, 429 and 5xx.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Mode is how a Publisher sends events.
type Mode struct {
	// Structured sends each event as a JSON document
	// (application/cloudevents+json) rather than in binary mode (its
	// attributes in ce- headers, data as the body).
	Structured bool
	// Batch > 1 sends up to Batch events per request in the JSON batch
	// format (application/cloudevents-batch+json); Structured does not
	// matter then. 0 and 1 send one event per request.
	Batch int
}

func (m Mode) String() string {
	switch {
	case m.Batch > 1:
		return fmt.Sprintf("batches of up to %d", m.Batch)
	case m.Structured:
		return "structured mode"
	}
	return "binary mode"
}

// Publisher returns a Publisher that POSTs messages to the endpoint as
// CloudEvents.
//
// Each Message becomes one CloudEvent: Value is its data
// (datacontenttype application/json), Time its time and Key its subject,
// unless Attrs say otherwise. Attrs with the names of CloudEvents
// attributes (id, source, type, subject, time as RFC 3339,
// dataschema, datacontenttype) set them; any other is an extension
// attribute (a string; names of lower-case letters and digits).
func (e *Endpoint) Publisher(mode Mode) exporter.Publisher { return &publisher{e: e, mode: mode} }

type publisher struct {
	e    *Endpoint
	mode Mode
}

func (p *publisher) String() string { return p.e.String() + " (" + p.mode.String() + ")" }

func (p *publisher) Close() error {
	p.e.Close()
	return nil
}

// Publish POSTs msgs in order, one request at a time, and stops at the
// first failure: one attempt each, no retries of its own.
func (p *publisher) Publish(ctx context.Context, msgs []exporter.Message) error {
	events := make([]event.Event, len(msgs))
	for i := range msgs {
		ev, err := ToEvent(msgs[i])
		if err != nil {
			return &exporter.Error{Where: p.e.where, Op: "post", Name: "event " + ev.ID(), Kind: exporter.ErrPermanent, Err: err}
		}
		events[i] = ev
	}
	if p.mode.Batch > 1 {
		for len(events) > 0 {
			n := min(p.mode.Batch, len(events))
			if err := p.post(ctx, events[:n]); err != nil {
				return err
			}
			events = events[n:]
		}
		return nil
	}
	for i := range events {
		if err := p.post(ctx, events[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}

// post sends one request: one event, or a batch.
func (p *publisher) post(ctx context.Context, events []event.Event) error {
	name := "event " + events[0].ID()
	var req *http.Request
	var err error
	if p.mode.Batch > 1 {
		name = fmt.Sprintf("batch of %d events %s … %s", len(events), events[0].ID(), events[len(events)-1].ID())
		if len(events) == 1 {
			name = "batch of 1 event " + events[0].ID()
		}
		req, err = p.e.newRequest(ctx, http.MethodPost)
		if err == nil {
			err = writeBatch(req, events)
		}
	} else {
		req, err = p.e.newRequest(ctx, http.MethodPost)
		if err == nil {
			wctx := binding.WithForceBinary(ctx)
			if p.mode.Structured {
				wctx = binding.WithForceStructured(ctx)
			}
			err = cehttp.WriteRequest(wctx, binding.ToMessage(&events[0]), req)
		}
	}
	if err != nil {
		return &exporter.Error{Where: p.e.where, Op: "post", Name: name, Kind: exporter.ErrPermanent, Err: err}
	}
	res, err := p.e.client.Do(req)
	if err != nil {
		return p.e.netError(ctx, "post", name, err)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		drain(res.Body)
		return nil
	}
	body := bodyStart(res.Body)
	fail := &exporter.Error{Where: p.e.where, Op: "post", Name: name, Code: "HTTP " + res.Status, Kind: exporter.ErrRefused, Err: errors.New(body)}
	switch c := res.StatusCode; {
	case retryable(c):
		fail.Kind = exporter.ErrUnavailable
		if d, ok := retryAfter(res.Header.Get("Retry-After"), time.Now()); ok {
			return &RetryError{Err: fail, After: d}
		}
	case c >= 400:
		fail.Kind = exporter.ErrPermanent
	case c >= 300:
		if loc := res.Header.Get("Location"); loc != "" {
			fail.Err = fmt.Errorf("redirected to %s: redirects are not followed; set url to where it points", redact(loc))
		}
	}
	return fail
}

// writeBatch makes events the body of req in the JSON batch format: an
// array of the events as the SDK writes them in structured mode
// (event.WriteJson). The SDK's NewHTTPRequestFromEvents does the same
// through encoding/json, which parses and compacts each event's JSON once
// more: half the sink's time. ToEvent validated the events.
func writeBatch(req *http.Request, events []event.Event) error {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := event.WriteJson(&events[i], &b); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	req.Header.Set("Content-Type", event.ApplicationCloudEventsBatchJSON)
	buf := b.Bytes()
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(buf)), int64(len(buf))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return nil
}

// bodyStart is the start of a refusal's body for its error: at most
// maxBodyShown bytes, cut at a character, "…" when there is more; "(no
// body)" for none.
func bodyStart(body io.ReadCloser) string {
	b := make([]byte, maxBodyShown+1)
	n, _ := io.ReadFull(body, b)
	drain(body)
	b = b[:n]
	cut := n > maxBodyShown
	if cut {
		b = b[:maxBodyShown]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	switch {
	case s == "":
		return "(no body)"
	case cut:
		return s + "…"
	}
	return s
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// RetryError is a failure after which the endpoint asked to wait (a
// Retry-After header); exporter.RetryAfter finds it.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (Retry-After: %s)", e.Err, e.After)
}

func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter is the wait the endpoint asked for.
func (e *RetryError) RetryAfter() time.Duration { return e.After }

// ToEvent is the CloudEvent of a Message (see Endpoint.Publisher).
func ToEvent(m exporter.Message) (event.Event, error) {
	e := event.New(event.CloudEventsVersionV1)
	if !m.Time.IsZero() {
		e.SetTime(m.Time)
	}
	if m.Key != "" {
		e.SetSubject(m.Key)
	}
	contentType := event.ApplicationJSON
	for _, a := range m.Attrs {
		switch a.Key {
		case "specversion":
			if a.Value != event.CloudEventsVersionV1 {
				return e, fmt.Errorf("specversion %q: want %s", a.Value, event.CloudEventsVersionV1)
			}
		case "id":
			e.SetID(a.Value)
		case "source":
			e.SetSource(a.Value)
		case "type":
			e.SetType(a.Value)
		case "subject":
			e.SetSubject(a.Value)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, a.Value)
			if err != nil {
				return e, fmt.Errorf("time: %v", err)
			}
			e.SetTime(t)
		case "dataschema":
			e.SetDataSchema(a.Value)
		case "datacontenttype":
			contentType = a.Value
		default:
			e.SetExtension(a.Key, a.Value)
		}
	}
	e.SetDataContentType(contentType)
	// The data as it is: JSON goes in "data" as JSON in structured mode.
	e.DataEncoded, e.DataBase64 = m.Value, false
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("not a valid CloudEvent: %s", ValidationMessage(err))
	}
	return e, nil
}

// ValidationMessage is an error of the SDK's event validation in one line,
// its fields in order.
func ValidationMessage(err error) string {
	var ve event.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	keys := make([]string, 0, len(ve))
	for k := range ve {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + ve[k].Error()
	}
	return strings.Join(parts, "; ")
}
