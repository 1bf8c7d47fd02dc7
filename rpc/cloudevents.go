package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/exporter/cloudevents"
)

// POST /cloudevents (docs/cloudevents.md): CloudEvents 1.0 over HTTP, in
// binary, structured and batch mode, with a stream's bearer token (or its
// client id and secret as HTTP Basic), as
// POST /event takes events. data is the event as JSON; its schema is the
// dataschema (strmlocal:schema:<ref>, or a bare ref) or the
// Strm-Schema-Ref header. One event is answered as POST /event answers
// (204, 400 with the reason, 401, 403, 413); a batch is answered 200 with
// one result per event. OPTIONS answers the CloudEvents webhook
// validation request.

// ceResult is the answer for one event of a batch.
type ceResult struct {
	ID       string  `json:"id"`
	Accepted bool    `json:"accepted"`
	Offset   *uint64 `json:"offset,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// ceEvent is an event of a request, parsed and checked.
type ceEvent struct {
	id   string
	ref  string
	data []byte
	err  error // why it is refused; nil when it goes on to ingest
}

func (s *Server) cloudEventsHandler(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// The CloudEvents webhook validation handshake: any origin may send.
		w.Header().Set("Allow", "OPTIONS, POST")
		if r.Header.Get("WebHook-Request-Origin") != "" {
			w.Header().Set("WebHook-Allowed-Origin", "*")
		}
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", "OPTIONS, POST")
		plainError(w, http.StatusMethodNotAllowed, "POST CloudEvents to /cloudevents")
		return
	}
	maxBytes := s.opts.MaxRequestBytes
	tooLarge := fmt.Sprintf("the request is larger than the limit of %d bytes: send fewer events per request", maxBytes)
	if r.ContentLength > int64(maxBytes) {
		s.metrics.refused("", reasonTooLarge, 1)
		w.Header().Set("Connection", "close")
		plainError(w, http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	drain := func() { _, _ = io.CopyN(io.Discard, r.Body, int64(maxBytes)+1) }
	refuse := func(status int, msg string) { drain(); plainError(w, status, msg) }
	// A bearer token from the token endpoint, as POST /event takes, or the
	// stream's client id and secret as HTTP Basic: a sink of another
	// strmlocal (an http connector with basic auth) then never sees its
	// token expire.
	st, err := s.streamAuth(r.Header, "")
	if err != nil {
		s.metrics.refused("", reasonUnauthenticated, 1)
		drain()
		var ce *connect.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message()
		}
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
		return
	}
	if st.IsDerived() {
		s.metrics.refused(st.Name, reasonDerived, 1)
		refuse(http.StatusForbidden, fmt.Sprintf("stream '%s' is derived from '%s' and accepts no events: use the credentials of '%s'", st.Name, st.DerivedFrom, st.DerivedFrom))
		return
	}
	var headerRef string
	if r.Header.Get(client.HeaderSchemaRef) != "" || r.Header.Get(client.HeaderSchemaID) != "" {
		if headerRef, err = s.schemaRefHeader(r.Header); err != nil {
			s.metrics.refused(st.Name, reasonSchema, 1)
			refuse(http.StatusBadRequest, err.Error())
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, int64(maxBytes))
	// readFailed answers a body that could not be read; false when err is
	// something else.
	readFailed := func(err error) bool {
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			s.metrics.refused(st.Name, reasonTooLarge, 1)
			plainError(w, http.StatusRequestEntityTooLarge, tooLarge)
		case errors.Is(err, errSlowBody):
			s.metrics.refused(st.Name, reasonRequest, 1)
			plainError(w, http.StatusRequestTimeout, errSlowBody.Error())
		default:
			return false
		}
		return true
	}
	msg := cehttp.NewMessageFromHttpRequest(r)
	enc := msg.ReadEncoding()
	if v := r.Header.Get("Ce-Specversion"); enc != binding.EncodingBatch && enc != binding.EncodingStructured && v != "" && v != event.CloudEventsVersionV1 {
		// Before the SDK reads a 0.3 event's headers as it would (or
		// cannot read those of another version).
		s.metrics.refused(st.Name, reasonRequest, 1)
		refuse(http.StatusBadRequest, fmt.Sprintf("unsupported specversion %q: send CloudEvents %s", v, event.CloudEventsVersionV1))
		return
	}
	switch enc {
	case binding.EncodingBatch:
		s.cloudEventsBatch(r.Context(), w, st, headerRef, msg.BodyReader, readFailed)
		return
	case binding.EncodingBinary, binding.EncodingStructured:
	default:
		s.metrics.refused(st.Name, reasonRequest, 1)
		refuse(http.StatusBadRequest, `missing CloudEvents attribute "specversion": send a CloudEvent 1.0 in binary mode (headers ce-specversion: 1.0, ce-id, ce-source, ce-type; the event as the body) or structured mode (Content-Type: application/cloudevents+json)`)
		return
	}
	e, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		if !readFailed(err) {
			s.metrics.refused(st.Name, reasonRequest, 1)
			plainError(w, http.StatusBadRequest, parseError(err))
		}
		return
	}
	ce := s.checkCloudEvent(e, headerRef)
	if ce.err != nil {
		s.metrics.refused(st.Name, reasonRequest, 1)
		plainError(w, http.StatusBadRequest, ce.err.Error())
		return
	}
	s.ingestOne(w, r, pathCloudEvents, st, ce.ref, engine.JSON, ce.data)
}

// cloudEventsBatch takes a JSON batch: every event is parsed (with the
// SDK's JSON format) and judged on its own, and the good ones are
// ingested, one Ingest call per run of events of the same schema (one
// call, one durable write, for a batch of one schema). The answer is 200
// with one result per event.
func (s *Server) cloudEventsBatch(ctx context.Context, w http.ResponseWriter, st *catalog.Stream, headerRef string, body io.Reader, readFailed func(error) bool) {
	var raws []json.RawMessage
	if err := json.NewDecoder(body).Decode(&raws); err != nil {
		if !readFailed(err) {
			s.metrics.refused(st.Name, reasonRequest, 1)
			plainError(w, http.StatusBadRequest, "the batch is not a JSON array of CloudEvents: "+err.Error())
		}
		return
	}
	if err := s.checkBatch(len(raws)); err != nil {
		s.metrics.refused(st.Name, reasonRequest, len(raws))
		var ce *connect.Error
		errors.As(err, &ce)
		plainError(w, http.StatusBadRequest, ce.Message())
		return
	}
	events := make([]ceEvent, len(raws))
	for i, raw := range raws {
		var e event.Event
		if err := format.JSON.Unmarshal(raw, &e); err != nil {
			events[i] = ceEvent{id: peekID(raw), err: errors.New(parseError(err))}
			continue
		}
		events[i] = s.checkCloudEvent(&e, headerRef)
	}
	if bad := countRefused(events); bad > 0 {
		s.metrics.refused(st.Name, reasonRequest, bad)
	}
	results := make([]ceResult, len(events))
	for i := 0; i < len(events); {
		if events[i].err != nil {
			i++
			continue
		}
		// The run of good events of one schema from i (refused events in
		// between do not end it).
		var idx []int
		var bodies [][]byte
		j := i
		for ; j < len(events) && (events[j].err != nil || events[j].ref == events[i].ref); j++ {
			if events[j].err == nil {
				idx = append(idx, j)
				bodies = append(bodies, events[j].data)
			}
		}
		res, err := s.ingest(ctx, pathCloudEvents, st, events[i].ref, engine.JSON, bodies)
		if err != nil {
			if !callerError(err) {
				s.httpError(w, err)
				return
			}
			for _, k := range idx {
				events[k].err = err
			}
		} else {
			for n, k := range idx {
				if res[n].Err != nil {
					events[k].err = res[n].Err
				} else {
					off := res[n].Offset
					results[k].Offset, results[k].Accepted = &off, true
				}
			}
		}
		i = j
	}
	for i, e := range events {
		results[i].ID = e.id
		if e.err != nil {
			results[i].Error = s.errorMessage(e.err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(results)
}

// countRefused is how many events of a batch were refused as CloudEvents,
// before ingest.
func countRefused(events []ceEvent) int {
	n := 0
	for _, e := range events {
		if e.err != nil {
			n++
		}
	}
	return n
}

// callerError reports whether an ingest error is the sender's own (an
// unknown or inactive schema): the events get it as their result rather
// than failing the request.
func callerError(err error) bool {
	switch connect.CodeOf(toConnect(err)) {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition:
		return !errors.Is(err, app.ErrStorageFull)
	}
	return false
}

// errorMessage is the message of a refused event, as POST /event would
// answer it.
func (s *Server) errorMessage(err error) string {
	var re *engine.RejectError
	if errors.As(err, &re) {
		return re.Msg
	}
	var ce *connect.Error
	if errors.As(toConnect(err), &ce) {
		return ce.Message()
	}
	return err.Error()
}

// checkCloudEvent checks a parsed CloudEvent and finds its schema and data.
func (s *Server) checkCloudEvent(e *event.Event, headerRef string) ceEvent {
	ce := ceEvent{id: e.ID()}
	fail := func(format string, args ...any) ceEvent {
		ce.err = fmt.Errorf(format, args...)
		return ce
	}
	if v := e.SpecVersion(); v != event.CloudEventsVersionV1 {
		return fail("unsupported specversion %q: send CloudEvents %s", v, event.CloudEventsVersionV1)
	}
	var missing []string
	for _, a := range []struct{ name, value string }{{"id", e.ID()}, {"source", e.Source()}, {"type", e.Type()}} {
		if strings.TrimSpace(a.value) == "" {
			missing = append(missing, `"`+a.name+`"`)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return fail("missing CloudEvents attribute %s", missing[0])
	default:
		return fail("missing CloudEvents attributes %s", strings.Join(missing, ", "))
	}
	if err := e.Validate(); err != nil {
		var ve event.ValidationError
		if errors.As(err, &ve) {
			delete(ve, "dataschema") // a bare ref is no absolute URI: judged below
			if len(ve) > 0 {
				return fail("invalid CloudEvent: %s", cloudevents.ValidationMessage(ve))
			}
		} else {
			return fail("invalid CloudEvent: %v", err)
		}
	}
	switch ds := e.DataSchema(); {
	case ds == "" && headerRef == "":
		return fail("missing dataschema: set it to %s<handle/name/version> of the event's schema (or send the header %s)", app.CloudEventsSchemaPrefix, client.HeaderSchemaRef)
	case ds == "":
		ce.ref = headerRef
	case strings.HasPrefix(ds, app.CloudEventsSchemaPrefix):
		ce.ref = strings.TrimPrefix(ds, app.CloudEventsSchemaPrefix)
	default:
		if _, err := engine.ParseRef(ds); err != nil {
			return fail("dataschema %q is not a strmlocal schema: want %s<handle/name/version>", ds, app.CloudEventsSchemaPrefix)
		}
		ce.ref = ds
	}
	if _, err := s.reg.ActiveSchema(ce.ref); err != nil {
		if ds := e.DataSchema(); ds != "" {
			return fail("dataschema %s: %s", ds, s.errorMessage(err))
		}
		return fail("%s", s.errorMessage(err))
	}
	if ct := e.DataContentType(); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")) {
			return fail("datacontenttype %q: send the event as JSON (application/json)", ct)
		}
	}
	ce.data = e.Data()
	if len(bytes.TrimSpace(ce.data)) == 0 {
		return fail("missing data: the event goes in data, as JSON")
	}
	var v any
	if err := json.Unmarshal(ce.data, &v); err != nil {
		return fail("data is not JSON: %v", err)
	}
	return ce
}

// parseError is the SDK's error for a CloudEvent it could not read, in
// one line.
func parseError(err error) string {
	var ve event.ValidationError
	if errors.As(err, &ve) {
		if sv, ok := ve["specversion"]; ok && len(ve) == 1 && sv.Error() == "no specversion" {
			return `missing CloudEvents attribute "specversion"`
		}
		return "invalid CloudEvent: " + cloudevents.ValidationMessage(ve)
	}
	return "invalid CloudEvent: " + err.Error()
}

// peekID is the id of a batch element the SDK could not read, if it has
// one, for its result.
func peekID(raw json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil {
		if s, ok := v.ID.(string); ok {
			return s
		}
	}
	return ""
}
