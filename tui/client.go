package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	strmclient "github.com/strmlocal/strmlocal/client"
)

// client makes every Connect call of the UI. Its methods are safe for
// concurrent use: they run inside tea.Cmds.
type client struct {
	url       string
	cc        *strmclient.Client
	streams   strmlocalv1connect.StreamServiceClient
	keys      strmlocalv1connect.KeyServiceClient
	clock     strmlocalv1connect.ClockServiceClient
	contracts strmlocalv1connect.EventContractServiceClient
	jobs      strmlocalv1connect.JobServiceClient
	creds     func(string) (*v1.Credentials, error)

	mu     sync.Mutex
	egress map[string]strmlocalv1connect.EgressServiceClient
}

func newClient(o Options) *client {
	cc := strmclient.New(o.Server, strmclient.Options{HTTPClient: o.HTTPClient, ConnectOptions: o.ClientOptions})
	return &client{
		url:       cc.URL,
		cc:        cc,
		streams:   cc.Streams,
		keys:      cc.Keys,
		clock:     cc.Clock,
		contracts: cc.EventContracts,
		jobs:      cc.Jobs,
		creds:     o.Credentials,
		egress:    map[string]strmlocalv1connect.EgressServiceClient{},
	}
}

// credentialsError wraps the Credentials func's answer so that a pane can
// tell "cannot read this stream" from "cannot reach the server".
type credentialsError struct {
	stream string
	err    error
}

func (e *credentialsError) Error() string { return strmclient.OneLine(e.err.Error()) }
func (e *credentialsError) Unwrap() error { return e.err }

// egressFor returns an Egress client that reads as the stream. Clients are
// cached once credentials were found; a failed lookup is asked again next
// time, so saving the credentials while the UI runs is enough.
func (c *client) egressFor(stream string) (strmlocalv1connect.EgressServiceClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.egress[stream]; ok {
		return e, nil
	}
	cr, err := c.creds(stream)
	if err == nil && (cr.GetClientId() == "" || cr.GetClientSecret() == "") {
		err = fmt.Errorf("no client id and secret for stream %s", stream)
	}
	if err != nil {
		return nil, &credentialsError{stream: stream, err: err}
	}
	e := c.cc.AsStream(cr).Egress
	c.egress[stream] = e
	return e, nil
}

// forget drops a cached egress client whose credentials the server refused.
func (c *client) forget(stream string) {
	c.mu.Lock()
	delete(c.egress, stream)
	c.mu.Unlock()
}

// describe is the one line shown for an error of a call about stream (""
// for management calls).
func (c *client) describe(stream string, err error) string {
	var ce *credentialsError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	msg := strmclient.Message(err)
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable:
		return fmt.Sprintf("cannot reach the strmlocal server at %s (%s)", c.url, msg)
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		if stream != "" {
			c.forget(stream)
			return fmt.Sprintf("the server refused the credentials of stream %s (%s): save its current credentials and press r", stream, msg)
		}
		return fmt.Sprintf("the server refused the request (%s): give the admin token with --admin-token", msg)
	case connect.CodeNotFound:
		return msg
	}
	return msg
}

// unreachable reports whether err means the server could not be reached
// at all (as opposed to refusing one request).
func unreachable(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnavailable
}

// --- streams, counts, key links, clock -------------------------------------

// countState is how far the event count of one stream has got. Source
// streams count offsets (end); derived streams count the events they keep,
// which only reading them tells, so their count advances page by page from
// a cursor.
type countState struct {
	end     uint64 // the source's next offset
	kept    uint64 // derived: events kept in [0, cursor)
	cursor  uint64 // derived: the next offset to count from
	behind  bool   // derived: cursor < end after this refresh's pages
	err     string // why there is no count
	noCreds bool
}

// count returns the number shown as the stream's event count.
func (s countState) count(derived bool) uint64 {
	if derived {
		return s.kept
	}
	return s.end
}

// maxCountPages bounds the reading a refresh does per derived stream, so a
// huge backlog is counted over several refreshes instead of stalling one.
const maxCountPages = 4

// streamsMsg is the result of one refresh.
type streamsMsg struct {
	seq     int // of the refresh (streamsModel.refreshSeq when it started)
	at      time.Time
	streams []*v1.Stream
	// jobs are every job, by name; jobsErr is why they could not be read
	// ("" for a server without JobService, which has none).
	jobs    []*v1.Job
	jobsErr string
	counts  map[string]countState
	// liveKeys and totalKeys are the key links of each source stream that
	// are not shredded, and all of them.
	liveKeys, totalKeys map[string]int
	clock               *v1.GetClockResponse
	err                 error
}

// refreshCmd lists the streams and the jobs and reads counts, key links
// and the clock. prev holds the count states of the last refresh (a copy:
// commands never share the model's maps).
func (c *client) refreshCmd(ctx context.Context, seq int, now func() time.Time, prev map[string]countState) tea.Cmd {
	return func() tea.Msg {
		msg := streamsMsg{seq: seq, counts: map[string]countState{}, liveKeys: map[string]int{}, totalKeys: map[string]int{}}
		ls, err := c.streams.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
		if err != nil {
			msg.err, msg.at = err, now()
			return msg
		}
		msg.streams = ls.Msg.Streams
		// One call for the jobs of every stream. A server without jobs
		// (an older one) has none to show; any other failure is shown but
		// does not fail the refresh.
		switch lj, err := c.jobs.ListJobs(ctx, connect.NewRequest(&v1.ListJobsRequest{})); {
		case err == nil:
			msg.jobs = lj.Msg.Jobs
		case connect.CodeOf(err) != connect.CodeUnimplemented:
			msg.jobsErr = c.describe("", err)
		}
		for _, st := range msg.streams {
			msg.counts[st.Name] = c.count(ctx, st, prev[st.Name])
			if st.DerivedFrom != "" {
				continue
			}
			kl, err := c.keys.ListKeyLinks(ctx, connect.NewRequest(&v1.ListKeyLinksRequest{Stream: st.Name}))
			if err != nil {
				msg.liveKeys[st.Name] = -1
				continue
			}
			for _, k := range kl.Msg.KeyLinks {
				if !k.Shredded {
					msg.liveKeys[st.Name]++
				}
			}
			msg.totalKeys[st.Name] = len(kl.Msg.KeyLinks)
		}
		if cl, err := c.clock.GetClock(ctx, connect.NewRequest(&v1.GetClockRequest{})); err == nil {
			msg.clock = cl.Msg
		}
		// Stamped after the reads: the rate divides what was counted by
		// the time between two such stamps.
		msg.at = now()
		return msg
	}
}

// endProbe is an offset past any record: a page read from it is empty and
// costs the server nothing, and its answer carries the end offset.
const endProbe = math.MaxUint64

func (c *client) count(ctx context.Context, st *v1.Stream, prev countState) countState {
	eg, err := c.egressFor(st.Name)
	if err != nil {
		return countState{err: c.describe(st.Name, err), noCreds: true}
	}
	if st.DerivedFrom == "" {
		res, err := eg.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{Stream: st.Name, FromOffset: endProbe, Limit: 1}))
		if err != nil {
			return countState{err: c.describe(st.Name, err)}
		}
		return countState{end: res.Msg.EndOffset}
	}
	s := countState{kept: prev.kept, cursor: prev.cursor, end: prev.end}
	for range maxCountPages {
		res, err := eg.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{Stream: st.Name, FromOffset: s.cursor, Limit: 10000}))
		if err != nil {
			return countState{err: c.describe(st.Name, err), kept: prev.kept, cursor: prev.cursor}
		}
		s.kept += uint64(len(res.Msg.Records))
		s.end = res.Msg.EndOffset
		if res.Msg.NextOffset > s.cursor {
			s.cursor = res.Msg.NextOffset
		}
		if s.cursor >= s.end || len(res.Msg.Records) == 0 {
			break
		}
	}
	s.behind = s.cursor < s.end
	return s
}

// --- contracts and key links ------------------------------------------------

type contractMsg struct {
	ref      string
	contract *v1.EventContract
	err      string
}

func (c *client) contractCmd(ctx context.Context, ref string) tea.Cmd {
	return func() tea.Msg {
		res, err := c.contracts.GetEventContract(ctx, connect.NewRequest(&v1.GetEventContractRequest{Ref: ref}))
		if err != nil {
			return contractMsg{ref: ref, err: c.describe("", err)}
		}
		return contractMsg{ref: ref, contract: res.Msg.EventContract}
	}
}

type keyLinksMsg struct {
	stream string // a source stream
	links  []*v1.KeyLink
	err    string
}

func (c *client) keyLinksCmd(ctx context.Context, stream string) tea.Cmd {
	return func() tea.Msg {
		res, err := c.keys.ListKeyLinks(ctx, connect.NewRequest(&v1.ListKeyLinksRequest{Stream: stream}))
		if err != nil {
			return keyLinksMsg{stream: stream, err: c.describe("", err)}
		}
		return keyLinksMsg{stream: stream, links: res.Msg.KeyLinks}
	}
}

type clockMsg struct{ clock *v1.GetClockResponse }

func (c *client) clockCmd(ctx context.Context) tea.Cmd {
	return func() tea.Msg {
		res, err := c.clock.GetClock(ctx, connect.NewRequest(&v1.GetClockRequest{}))
		if err != nil {
			return nil
		}
		return clockMsg{res.Msg}
	}
}

// --- jobs ------------------------------------------------------------------

// jobActionMsg answers a pause or a resume: the job as the server left it,
// or why it refused.
type jobActionMsg struct {
	seq   int
	name  string
	pause bool // else resume
	job   *v1.Job
	err   string
}

// jobActionCmd pauses (or resumes) the named job.
func (c *client) jobActionCmd(ctx context.Context, seq int, name string, pause bool) tea.Cmd {
	return func() tea.Msg {
		msg := jobActionMsg{seq: seq, name: name, pause: pause}
		var err error
		if pause {
			var res *connect.Response[v1.PauseJobResponse]
			if res, err = c.jobs.PauseJob(ctx, connect.NewRequest(&v1.PauseJobRequest{Name: name})); err == nil {
				msg.job = res.Msg.Job
			}
		} else {
			var res *connect.Response[v1.ResumeJobResponse]
			if res, err = c.jobs.ResumeJob(ctx, connect.NewRequest(&v1.ResumeJobRequest{Name: name})); err == nil {
				msg.job = res.Msg.Job
			}
		}
		if err != nil {
			msg.err = c.describe("", err)
		}
		return msg
	}
}

// --- one record --------------------------------------------------------------

// recordAt reads the record at offset of a stream: nil when the stream has
// none there (a derived stream dropped it, or the offset is past the end).
func (c *client) recordAt(ctx context.Context, stream string, offset uint64) (*v1.Record, uint64, error) {
	eg, err := c.egressFor(stream)
	if err != nil {
		return nil, 0, err
	}
	res, err := eg.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{Stream: stream, FromOffset: offset, Limit: 1}))
	if err != nil {
		return nil, 0, err
	}
	if len(res.Msg.Records) == 1 && res.Msg.Records[0].Offset == offset {
		return res.Msg.Records[0], res.Msg.EndOffset, nil
	}
	return nil, res.Msg.EndOffset, nil
}

// sideMsg answers a side-by-side request.
type sideMsg struct {
	seq         int
	left, right *v1.Record
	end         uint64
	leftErr     string
	rightErr    string
}

func (c *client) sideCmd(ctx context.Context, seq int, source, derived string, offset uint64) tea.Cmd {
	return func() tea.Msg {
		msg := sideMsg{seq: seq}
		left, end, err := c.recordAt(ctx, source, offset)
		if err != nil {
			msg.leftErr = c.describe(source, err)
		}
		msg.left, msg.end = left, end
		right, end2, err := c.recordAt(ctx, derived, offset)
		if err != nil {
			msg.rightErr = c.describe(derived, err)
		}
		msg.right = right
		msg.end = max(msg.end, end2)
		return msg
	}
}

// --- the tail ----------------------------------------------------------------

// tailStart says where a tail begins.
type tailStart struct {
	offset  *uint64
	time    *time.Time
	history int // with neither: the last history records, then new ones
}

func (s tailStart) request(stream string, end uint64) *v1.TailRequest {
	req := &v1.TailRequest{Stream: stream, Follow: true}
	switch {
	case s.offset != nil:
		req.Start = &v1.TailRequest_FromOffset{FromOffset: *s.offset}
	case s.time != nil:
		req.Start = &v1.TailRequest_FromTime{FromTime: timestamppb.New(*s.time)}
	default:
		from := uint64(0)
		if end > uint64(s.history) {
			from = end - uint64(s.history)
		}
		req.Start = &v1.TailRequest_FromOffset{FromOffset: from}
	}
	return req
}

// tailOpenedMsg hands a running tail to Update.
type tailOpenedMsg struct {
	gen int
	t   *tailer
	err string
}

// openTailCmd looks up the stream's credentials and starts a tailer on g,
// which Model.Close joins. The tailer's context is canceled by
// Model.stopTail (or Model.Close).
func (c *client) openTailCmd(ctx context.Context, g *group, gen int, stream string, start tailStart, limit int) tea.Cmd {
	return func() tea.Msg {
		eg, err := c.egressFor(stream)
		if err != nil {
			return tailOpenedMsg{gen: gen, err: c.describe(stream, err)}
		}
		var end uint64
		if start.offset == nil && start.time == nil {
			res, err := eg.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{Stream: stream, FromOffset: endProbe, Limit: 1}))
			if err != nil {
				return tailOpenedMsg{gen: gen, err: c.describe(stream, err)}
			}
			end = res.Msg.EndOffset
		}
		t := newTailer(ctx, limit)
		req := start.request(stream, end)
		if !g.goFunc(func() { t.run(eg, req, func(err error) string { return c.describe(stream, err) }) }) {
			t.cancel()
			return tailOpenedMsg{gen: gen, err: "the UI is closing"}
		}
		return tailOpenedMsg{gen: gen, t: t}
	}
}
