package rpc

import (
	"context"
	"encoding/json"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
)

type connectorService struct{ s *Server }

type jobService struct{ s *Server }

// configBytes renders a config Struct as the JSON object the application
// checks; a missing config is an empty object.
func configBytes(c *structpb.Struct) ([]byte, error) {
	if c == nil {
		return []byte("{}"), nil
	}
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, invalidArgument("config: %v", err)
	}
	return b, nil
}

func toStruct(config []byte) *structpb.Struct {
	var m map[string]any
	if err := json.Unmarshal(config, &m); err != nil {
		return nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return s
}

func newConnector(c *v1.DataConnector) (app.NewConnector, error) {
	if c == nil {
		return app.NewConnector{}, invalidArgument("dataConnector: missing")
	}
	config, err := configBytes(c.Config)
	return app.NewConnector{Name: c.Name, Kind: c.Kind, Config: config}, err
}

func (h *connectorService) toProto(c *catalog.Connector) *v1.DataConnector {
	out := &v1.DataConnector{Name: c.Name, Kind: c.Kind, Config: toStruct(app.MaskedConfig(c)), CreateTime: timestamppb.New(c.CreateTime)}
	for _, j := range h.s.app.Jobs("") {
		if j.Connector == c.Name {
			out.Jobs = append(out.Jobs, j.Name)
		}
	}
	return out
}

func (h *connectorService) CreateDataConnector(_ context.Context, req *connect.Request[v1.CreateDataConnectorRequest]) (*connect.Response[v1.CreateDataConnectorResponse], error) {
	n, err := newConnector(req.Msg.DataConnector)
	if err != nil {
		return nil, err
	}
	c, err := h.s.app.CreateConnector(n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.CreateDataConnectorResponse{DataConnector: h.toProto(c)}), nil
}

func (h *connectorService) UpdateDataConnector(_ context.Context, req *connect.Request[v1.UpdateDataConnectorRequest]) (*connect.Response[v1.UpdateDataConnectorResponse], error) {
	n, err := newConnector(req.Msg.DataConnector)
	if err != nil {
		return nil, err
	}
	c, err := h.s.app.UpdateConnector(n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.UpdateDataConnectorResponse{DataConnector: h.toProto(c)}), nil
}

func (h *connectorService) GetDataConnector(_ context.Context, req *connect.Request[v1.GetDataConnectorRequest]) (*connect.Response[v1.GetDataConnectorResponse], error) {
	c, err := h.s.app.Connector(req.Msg.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetDataConnectorResponse{DataConnector: h.toProto(c)}), nil
}

func (h *connectorService) ListDataConnectors(context.Context, *connect.Request[v1.ListDataConnectorsRequest]) (*connect.Response[v1.ListDataConnectorsResponse], error) {
	out := &v1.ListDataConnectorsResponse{DataConnectors: []*v1.DataConnector{}}
	for _, c := range h.s.app.Connectors() {
		out.DataConnectors = append(out.DataConnectors, h.toProto(c))
	}
	return connect.NewResponse(out), nil
}

func (h *connectorService) DeleteDataConnector(_ context.Context, req *connect.Request[v1.DeleteDataConnectorRequest]) (*connect.Response[v1.DeleteDataConnectorResponse], error) {
	jobs, err := h.s.app.DeleteConnector(req.Msg.Name, req.Msg.Recursive)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.DeleteDataConnectorResponse{DeletedJobs: jobs}), nil
}

func (h *connectorService) ValidateDataConnector(_ context.Context, req *connect.Request[v1.ValidateDataConnectorRequest]) (*connect.Response[v1.ValidateDataConnectorResponse], error) {
	n, err := newConnector(req.Msg.DataConnector)
	if err != nil {
		return nil, err
	}
	if err := h.s.app.ValidateConnector(n); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ValidateDataConnectorResponse{}), nil
}

func (h *connectorService) TestDataConnector(ctx context.Context, req *connect.Request[v1.TestDataConnectorRequest]) (*connect.Response[v1.TestDataConnectorResponse], error) {
	var n app.NewConnector
	if req.Msg.Name == "" {
		var err error
		if n, err = newConnector(req.Msg.DataConnector); err != nil {
			return nil, err
		}
	}
	res, err := h.s.app.TestConnector(ctx, req.Msg.Name, n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.TestDataConnectorResponse{Result: res}), nil
}

func toKinds(kinds []app.Kind) []*v1.Kind {
	out := make([]*v1.Kind, len(kinds))
	for i, k := range kinds {
		out[i] = &v1.Kind{Kind: k.Name, Description: k.Description, ConfigSchema: k.Schema, SecretFields: k.Secrets}
	}
	return out
}

func (h *connectorService) DescribeConnectorKinds(context.Context, *connect.Request[v1.DescribeConnectorKindsRequest]) (*connect.Response[v1.DescribeConnectorKindsResponse], error) {
	return connect.NewResponse(&v1.DescribeConnectorKindsResponse{Kinds: toKinds(app.ConnectorKinds())}), nil
}

var jobStates = map[string]v1.JobState{
	catalog.JobRunning: v1.JobState_JOB_STATE_RUNNING,
	catalog.JobPaused:  v1.JobState_JOB_STATE_PAUSED,
	catalog.JobFailed:  v1.JobState_JOB_STATE_FAILED,
}

// timestamp is t, or nil for the zero time.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func toJob(j *catalog.Job, config []byte) *v1.Job {
	return &v1.Job{Name: j.Name, Kind: j.Kind, Stream: j.Stream, DataConnector: j.Connector, Config: toStruct(config), CreateTime: timestamppb.New(j.CreateTime)}
}

func toJobInfo(info app.JobInfo) *v1.Job {
	out := toJob(info.Job, info.Job.Config)
	st := info.State
	out.Status = &v1.JobStatus{
		State:           jobStates[st.State],
		Cursor:          st.Cursor,
		Lag:             info.Lag,
		EventsExported:  st.Events,
		BytesExported:   st.Bytes,
		ObjectsWritten:  st.Objects,
		LastSuccessTime: timestamp(st.LastSuccess),
		LastError:       st.LastError,
		LastErrorTime:   timestamp(st.LastErrorTime),
		Retries:         st.Retries,
		NextRunTime:     timestamp(st.NextRun),
	}
	return out
}

func newJob(j *v1.Job) (app.NewJob, error) {
	if j == nil {
		return app.NewJob{}, invalidArgument("job: missing")
	}
	if j.Status != nil {
		return app.NewJob{}, invalidArgument("job.status: is output only; leave it out")
	}
	config, err := configBytes(j.Config)
	return app.NewJob{Name: j.Name, Kind: j.Kind, Stream: j.Stream, Connector: j.DataConnector, Config: config}, err
}

func (h *jobService) CreateJob(_ context.Context, req *connect.Request[v1.CreateJobRequest]) (*connect.Response[v1.CreateJobResponse], error) {
	n, err := newJob(req.Msg.Job)
	if err != nil {
		return nil, err
	}
	info, err := h.s.app.CreateJob(n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.CreateJobResponse{Job: toJobInfo(info)}), nil
}

func (h *jobService) UpdateJob(_ context.Context, req *connect.Request[v1.UpdateJobRequest]) (*connect.Response[v1.UpdateJobResponse], error) {
	n, err := newJob(req.Msg.Job)
	if err != nil {
		return nil, err
	}
	info, err := h.s.app.UpdateJob(n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.UpdateJobResponse{Job: toJobInfo(info)}), nil
}

func (h *jobService) GetJob(_ context.Context, req *connect.Request[v1.GetJobRequest]) (*connect.Response[v1.GetJobResponse], error) {
	info, err := h.s.app.Job(req.Msg.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.GetJobResponse{Job: toJobInfo(info)}), nil
}

func (h *jobService) ListJobs(_ context.Context, req *connect.Request[v1.ListJobsRequest]) (*connect.Response[v1.ListJobsResponse], error) {
	if req.Msg.Stream != "" {
		if _, err := h.s.cat.Get(req.Msg.Stream); err != nil {
			return nil, toConnect(err)
		}
	}
	out := &v1.ListJobsResponse{Jobs: []*v1.Job{}}
	for _, info := range h.s.app.Jobs(req.Msg.Stream) {
		out.Jobs = append(out.Jobs, toJobInfo(info))
	}
	return connect.NewResponse(out), nil
}

func (h *jobService) DeleteJob(_ context.Context, req *connect.Request[v1.DeleteJobRequest]) (*connect.Response[v1.DeleteJobResponse], error) {
	if err := h.s.app.DeleteJob(req.Msg.Name); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.DeleteJobResponse{}), nil
}

func (h *jobService) ValidateJob(_ context.Context, req *connect.Request[v1.ValidateJobRequest]) (*connect.Response[v1.ValidateJobResponse], error) {
	n, err := newJob(req.Msg.Job)
	if err != nil {
		return nil, err
	}
	j, err := h.s.app.ValidateJob(n)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ValidateJobResponse{Job: toJob(j, j.Config)}), nil
}

func (h *jobService) PauseJob(_ context.Context, req *connect.Request[v1.PauseJobRequest]) (*connect.Response[v1.PauseJobResponse], error) {
	info, err := h.s.app.PauseJob(req.Msg.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.PauseJobResponse{Job: toJobInfo(info)}), nil
}

func (h *jobService) ResumeJob(_ context.Context, req *connect.Request[v1.ResumeJobRequest]) (*connect.Response[v1.ResumeJobResponse], error) {
	info, err := h.s.app.ResumeJob(req.Msg.Name)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&v1.ResumeJobResponse{Job: toJobInfo(info)}), nil
}

func (h *jobService) DescribeJobKinds(context.Context, *connect.Request[v1.DescribeJobKindsRequest]) (*connect.Response[v1.DescribeJobKindsResponse], error) {
	return connect.NewResponse(&v1.DescribeJobKindsResponse{Kinds: toKinds(app.JobKinds())}), nil
}
