package rpc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
)

// The STRM event gateway (docs/compat.md): POST /event with one event per
// request, as the original drivers send it. Answers: 204 accepted (after
// the append is durable), 400 with the plain-text reason, 401 with a JSON
// error for the token, 403 for a derived stream's token, 413 over the
// size limit.

func (s *Server) eventHandler(w http.ResponseWriter, r *http.Request) {
	maxBytes := s.app.MaxEventBytes()
	if r.ContentLength > int64(maxBytes) {
		// Refused before anything is read.
		s.metrics.refused("", reasonTooLarge, 1)
		w.Header().Set("Connection", "close")
		plainError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("event is larger than the limit of %d bytes (serve --max-event-size)", maxBytes))
		return
	}
	// A refusal before the body is read first takes in what the client is
	// still sending (up to the size limit): an HTTP/2 response that ends
	// the stream under a client's upload makes clients such as curl report
	// a broken stream instead of the answer.
	drain := func() { _, _ = io.CopyN(io.Discard, r.Body, int64(maxBytes)+1) }
	refuse := func(status int, msg string) { drain(); plainError(w, status, msg) }
	st, _, err := s.bearerStream(r.Header.Get("Authorization"))
	if err != nil {
		s.metrics.refused("", reasonUnauthenticated, 1)
		drain()
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	if st.IsDerived() {
		s.metrics.refused(st.Name, reasonDerived, 1)
		refuse(http.StatusForbidden, fmt.Sprintf("stream '%s' is derived from '%s' and accepts no events: use the credentials of '%s'", st.Name, st.DerivedFrom, st.DerivedFrom))
		return
	}
	ref, err := s.schemaRefHeader(r.Header)
	if err != nil {
		s.metrics.refused(st.Name, reasonSchema, 1)
		refuse(http.StatusBadRequest, err.Error())
		return
	}
	ser, err := serializationHeader(r.Header.Get(client.HeaderSerialization))
	if err != nil {
		s.metrics.refused(st.Name, reasonSchema, 1)
		refuse(http.StatusBadRequest, err.Error())
		return
	}
	body, err := readBody(w, r, maxBytes)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.metrics.refused(st.Name, reasonTooLarge, 1)
		plainError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("event is larger than the limit of %d bytes (serve --max-event-size)", maxBytes))
		return
	case errors.Is(err, errSlowBody):
		s.metrics.refused(st.Name, reasonRequest, 1)
		plainError(w, http.StatusRequestTimeout, errSlowBody.Error())
		return
	case err != nil:
		s.metrics.refused(st.Name, reasonRequest, 1)
		plainError(w, http.StatusBadRequest, "cannot read the event body: "+err.Error())
		return
	}
	s.ingestOne(w, r, pathEvent, st, ref, ser, body)
}

// readBody reads a request's body of at most maxBytes: into one buffer
// of the declared length when there is one (io.ReadAll grows its own
// from 512 bytes).
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, int64(maxBytes))
	if n := r.ContentLength; n > 0 && n <= int64(maxBytes) {
		b := make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(body)
}

// ingestOne ingests one event that came in by path and answers as POST
// /event does: 204 once it is durable, else the error (httpError).
func (s *Server) ingestOne(w http.ResponseWriter, r *http.Request, path ingestPath, st *catalog.Stream, ref string, ser engine.Serialization, body []byte) {
	res, err := s.ingest(r.Context(), path, st, ref, ser, [][]byte{body})
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		s.httpError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// httpError answers an ingest error: the caller's own mistakes are 400s
// with the message; anything else is logged and is a 500 or 503.
func (s *Server) httpError(w http.ResponseWriter, err error) {
	var re *engine.RejectError
	if errors.As(err, &re) {
		plainError(w, http.StatusBadRequest, re.Msg)
		return
	}
	var ce *connect.Error
	errors.As(toConnect(err), &ce)
	if errors.Is(err, app.ErrStorageFull) {
		w.Header().Set("Retry-After", retryAfterFull)
		plainError(w, http.StatusServiceUnavailable, ce.Message())
		return
	}
	if errors.Is(err, app.ErrStorageUnavailable) { // the scale-out mode's PostgreSQL or brokers
		w.Header().Set("Retry-After", retryAfterUnavailable)
		plainError(w, http.StatusServiceUnavailable, ce.Message())
		return
	}
	switch ce.Code() {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition:
		plainError(w, http.StatusBadRequest, ce.Message())
	case connect.CodeUnavailable, connect.CodeCanceled:
		plainError(w, http.StatusServiceUnavailable, "the server is stopping: retry")
	default:
		s.opts.Logger.Error("POST /event failed", "error", err)
		plainError(w, http.StatusInternalServerError, "internal error: see the server log")
	}
}

// schemaRefHeader resolves the schema an event names: Strm-Schema-Ref, or
// the legacy Strm-Schema-Id, which holds either a ref or the bare name of
// exactly one ACTIVE schema.
func (s *Server) schemaRefHeader(h http.Header) (string, error) {
	if ref := h.Get(client.HeaderSchemaRef); ref != "" {
		return ref, nil
	}
	id := h.Get(client.HeaderSchemaID)
	if id == "" {
		return "", errors.New("missing header " + client.HeaderSchemaRef + ": set it to the ref of the event's schema, handle/name/version")
	}
	if strings.Contains(id, "/") {
		return id, nil
	}
	matches := s.reg.Schemas(catalog.SchemaFilter{Name: id, State: catalog.Active})
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%s '%s' names no active schema: send %s: handle/name/version", client.HeaderSchemaID, id, client.HeaderSchemaRef)
	case 1:
		return matches[0].Ref().String(), nil
	case 2:
		// The built-in catalogue holds each schema under both handles
		// (docs/registry.md); drivers that send Strm-Schema-Id date from
		// the streammachine/ days.
		a, b := matches[0].Ref(), matches[1].Ref()
		if a.Name == b.Name && a.Version == b.Version {
			switch {
			case a.Handle == "streammachine" && b.Handle == "strmprivacy":
				return a.String(), nil
			case b.Handle == "streammachine" && a.Handle == "strmprivacy":
				return b.String(), nil
			}
		}
	}
	refs := make([]string, len(matches))
	for i, m := range matches {
		refs[i] = m.Ref().String()
	}
	return "", fmt.Errorf("%s '%s' names %d active schemas (%s): send %s with one of them", client.HeaderSchemaID, id, len(matches), strings.Join(refs, ", "), client.HeaderSchemaRef)
}

// serializationHeader reads Strm-Serialization-Type; absent is 0, the
// schema's own serialization. Drivers send bare media types; parameters
// (";charset=...") are ignored.
func serializationHeader(v string) (engine.Serialization, error) {
	if media, _, _ := strings.Cut(v, ";"); strings.TrimSpace(media) == "" {
		return 0, nil
	}
	if ser, ok := engine.ParseSerialization(v); ok {
		return ser, nil
	}
	return 0, fmt.Errorf("unsupported %s '%s': use %s or %s", client.HeaderSerialization, v, engine.ContentTypeAvroBinary, engine.ContentTypeJSON)
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
