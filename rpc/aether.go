package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
)

// The REST surface of jobs and data connectors in the shape of the Aether
// consumer SDK's API (docs/jobs.md): /{type}/{verb} with type "job" or
// "resource" (a data connector), ids in ?id=, JSON bodies with an "id".
// It is a management surface: the admin token guards it as it guards
// ConnectorService and JobService.

// aetherResource is a data connector in the REST shape.
type aetherResource struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Config     json.RawMessage `json:"config,omitempty"`
	CreateTime *time.Time      `json:"createTime,omitempty"`
	Jobs       []string        `json:"jobs,omitempty"`
}

// aetherJob is a job in the REST shape.
type aetherJob struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Stream     string          `json:"stream"`
	Resource   string          `json:"resource,omitempty"`
	Config     json.RawMessage `json:"config,omitempty"`
	CreateTime *time.Time      `json:"createTime,omitempty"`
	Status     *aetherStatus   `json:"status,omitempty"`
}

type aetherStatus struct {
	State          string     `json:"state"`
	Cursor         uint64     `json:"cursor"`
	Lag            uint64     `json:"lag"`
	EventsExported uint64     `json:"eventsExported"`
	BytesExported  uint64     `json:"bytesExported"`
	ObjectsWritten uint64     `json:"objectsWritten"`
	LastSuccess    *time.Time `json:"lastSuccessTime,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
	LastErrorTime  *time.Time `json:"lastErrorTime,omitempty"`
	Retries        uint32     `json:"retries"`
	NextRun        *time.Time `json:"nextRunTime,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) aetherResource(c *catalog.Connector) aetherResource {
	out := aetherResource{ID: c.Name, Kind: c.Kind, Config: app.MaskedConfig(c), CreateTime: timePtr(c.CreateTime)}
	for _, j := range s.app.Jobs("") {
		if j.Connector == c.Name {
			out.Jobs = append(out.Jobs, j.Name)
		}
	}
	return out
}

func aetherJobOf(info app.JobInfo) aetherJob {
	st := info.State
	return aetherJob{
		ID: info.Name, Kind: info.Kind, Stream: info.Stream, Resource: info.Connector, Config: info.Config,
		CreateTime: timePtr(info.CreateTime),
		Status: &aetherStatus{
			State: st.State, Cursor: st.Cursor, Lag: info.Lag, EventsExported: st.Events, BytesExported: st.Bytes,
			ObjectsWritten: st.Objects, LastSuccess: timePtr(st.LastSuccess), LastError: st.LastError,
			LastErrorTime: timePtr(st.LastErrorTime), Retries: st.Retries, NextRun: timePtr(st.NextRun),
		},
	}
}

// aetherKinds is the /{type}/schema answer: kind → its config's JSON Schema.
func aetherKinds(kinds []app.Kind, id string) (any, error) {
	out := map[string]json.RawMessage{}
	for _, k := range kinds {
		if id == "" || id == k.Name {
			out[k.Name] = json.RawMessage(k.Schema)
		}
	}
	if id != "" && len(out) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("kind %q not found", id))
	}
	if id != "" {
		return out[id], nil
	}
	return out, nil
}

// aetherRoutes mounts the REST surface on mux.
func (s *Server) aetherRoutes(mux *http.ServeMux) {
	guard := adminGuard{s.opts.AdminToken}
	handle := func(pattern string, fn func(r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := guard.check(r.Header); err != nil {
				writeAetherError(w, err)
				return
			}
			v, err := fn(r)
			if err != nil {
				writeAetherError(w, toConnect(err))
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	both := func(verb string, fn func(r *http.Request) (any, error)) {
		handle("GET "+verb, fn)
		handle("POST "+verb, fn)
	}
	id := func(r *http.Request) (string, error) {
		v := r.URL.Query().Get("id")
		if v == "" {
			return "", invalidArgument("id: missing: add ?id=NAME")
		}
		return v, nil
	}

	// Resources: data connectors.
	readResource := func(r *http.Request) (app.NewConnector, error) {
		var body aetherResource
		if err := readAetherBody(r, &body); err != nil {
			return app.NewConnector{}, err
		}
		return app.NewConnector{Name: body.ID, Kind: body.Kind, Config: body.Config}, nil
	}
	handle("POST /resource/add", func(r *http.Request) (any, error) {
		n, err := readResource(r)
		if err != nil {
			return nil, err
		}
		c, err := s.app.CreateConnector(n)
		if err != nil {
			return nil, err
		}
		return s.aetherResource(c), nil
	})
	handle("POST /resource/update", func(r *http.Request) (any, error) {
		n, err := readResource(r)
		if err != nil {
			return nil, err
		}
		c, err := s.app.UpdateConnector(n)
		if err != nil {
			return nil, err
		}
		return s.aetherResource(c), nil
	})
	handle("POST /resource/validate", func(r *http.Request) (any, error) {
		n, err := readResource(r)
		if err != nil {
			return nil, err
		}
		if err := s.app.ValidateConnector(n); err != nil {
			return nil, err
		}
		return map[string]bool{"valid": true}, nil
	})
	both("/resource/get", func(r *http.Request) (any, error) {
		name, err := id(r)
		if err != nil {
			return nil, err
		}
		c, err := s.app.Connector(name)
		if err != nil {
			return nil, err
		}
		return s.aetherResource(c), nil
	})
	both("/resource/delete", func(r *http.Request) (any, error) {
		name, err := id(r)
		if err != nil {
			return nil, err
		}
		recursive, _ := strconv.ParseBool(r.URL.Query().Get("recursive"))
		jobs, err := s.app.DeleteConnector(name, recursive)
		if err != nil {
			return nil, err
		}
		return map[string]any{"deleted": name, "deletedJobs": append([]string{}, jobs...)}, nil
	})
	both("/resource/test", func(r *http.Request) (any, error) {
		name, err := id(r)
		if err != nil {
			return nil, err
		}
		res, err := s.app.TestConnector(r.Context(), name, app.NewConnector{})
		if err != nil {
			return nil, err
		}
		return map[string]string{"result": res}, nil
	})
	handle("GET /resource/list", func(*http.Request) (any, error) {
		ids := []string{}
		for _, c := range s.app.Connectors() {
			ids = append(ids, c.Name)
		}
		return ids, nil
	})
	both("/resource/schema", func(r *http.Request) (any, error) {
		return aetherKinds(app.ConnectorKinds(), r.URL.Query().Get("id"))
	})

	// Jobs.
	readJob := func(r *http.Request) (app.NewJob, error) {
		var body aetherJob
		if err := readAetherBody(r, &body); err != nil {
			return app.NewJob{}, err
		}
		if body.Status != nil {
			return app.NewJob{}, invalidArgument("status: is output only; leave it out")
		}
		return app.NewJob{Name: body.ID, Kind: body.Kind, Stream: body.Stream, Connector: body.Resource, Config: body.Config}, nil
	}
	handle("POST /job/add", func(r *http.Request) (any, error) {
		n, err := readJob(r)
		if err != nil {
			return nil, err
		}
		info, err := s.app.CreateJob(n)
		if err != nil {
			return nil, err
		}
		return aetherJobOf(info), nil
	})
	handle("POST /job/update", func(r *http.Request) (any, error) {
		n, err := readJob(r)
		if err != nil {
			return nil, err
		}
		info, err := s.app.UpdateJob(n)
		if err != nil {
			return nil, err
		}
		return aetherJobOf(info), nil
	})
	handle("POST /job/validate", func(r *http.Request) (any, error) {
		n, err := readJob(r)
		if err != nil {
			return nil, err
		}
		if _, err := s.app.ValidateJob(n); err != nil {
			return nil, err
		}
		return map[string]bool{"valid": true}, nil
	})
	jobVerb := func(verb string, fn func(name string) (app.JobInfo, error), status bool) {
		both("/job/"+verb, func(r *http.Request) (any, error) {
			name, err := id(r)
			if err != nil {
				return nil, err
			}
			info, err := fn(name)
			if err != nil {
				return nil, err
			}
			if status {
				return aetherJobOf(info).Status, nil
			}
			return aetherJobOf(info), nil
		})
	}
	jobVerb("get", s.app.Job, false)
	jobVerb("status", s.app.Job, true)
	jobVerb("pause", s.app.PauseJob, false)
	jobVerb("resume", s.app.ResumeJob, false)
	both("/job/delete", func(r *http.Request) (any, error) {
		name, err := id(r)
		if err != nil {
			return nil, err
		}
		if err := s.app.DeleteJob(name); err != nil {
			return nil, err
		}
		return map[string]string{"deleted": name}, nil
	})
	handle("GET /job/list", func(*http.Request) (any, error) {
		ids := []string{}
		for _, j := range s.app.Jobs("") {
			ids = append(ids, j.Name)
		}
		return ids, nil
	})
	both("/job/schema", func(r *http.Request) (any, error) {
		return aetherKinds(app.JobKinds(), r.URL.Query().Get("id"))
	})
}

// readAetherBody decodes a JSON body into v, refusing unknown fields.
func readAetherBody(r *http.Request, v any) error {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return invalidArgument("body: missing: send the JSON object")
		}
		return invalidArgument("body: %v", err)
	}
	return nil
}

// aetherStatuses maps Connect codes to the HTTP statuses of the REST
// surface; anything else is a 500.
var aetherStatuses = map[connect.Code]int{
	connect.CodeInvalidArgument:    http.StatusBadRequest,
	connect.CodeNotFound:           http.StatusNotFound,
	connect.CodeAlreadyExists:      http.StatusConflict,
	connect.CodeFailedPrecondition: http.StatusConflict,
	connect.CodeUnauthenticated:    http.StatusUnauthorized,
	connect.CodeUnavailable:        http.StatusServiceUnavailable,
	connect.CodeResourceExhausted:  http.StatusServiceUnavailable,
	connect.CodeCanceled:           http.StatusServiceUnavailable,
	connect.CodeDeadlineExceeded:   http.StatusGatewayTimeout,
}

// writeAetherError answers {"error": message}.
func writeAetherError(w http.ResponseWriter, err error) {
	var ce *connect.Error
	msg, status := err.Error(), http.StatusInternalServerError
	if errors.As(err, &ce) {
		msg = ce.Message()
		if st, ok := aetherStatuses[ce.Code()]; ok {
			status = st
		}
	}
	writeJSON(w, status, map[string]string{"error": msg})
}
