package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// jobModel is the status of one job, with its config, and the keys that
// pause and resume it. What it shows comes from the tree's refreshes
// (Model hands it the job after each one) and from the answers of its own
// pause and resume calls.
type jobModel struct {
	c    *common
	name string
	job  *v1.Job // as last known
	gone bool    // the last refresh did not list it: deleted
	// busy is the call in flight, "pausing" or "resuming"; seq numbers the
	// calls so that the answer of an earlier job's call is not this one's.
	busy   string
	seq    int
	scroll scroller // a pager over the lines
}

// openJobMsg shows the status of a job.
type openJobMsg struct{ job *v1.Job }

// open shows job from its first line.
func (j *jobModel) open(job *v1.Job) tea.Cmd {
	*j = jobModel{c: j.c, name: job.Name, job: job, seq: j.seq, scroll: scroller{pager: true}}
	j.resize()
	return nil
}

// sync takes the job as the tree's last refresh knows it; known is false
// when the tree could not read the jobs, which says nothing about this one.
func (j *jobModel) sync(job *v1.Job, known bool) {
	switch {
	case !known || j.name == "":
	case job == nil:
		j.gone = true
	default:
		j.job, j.gone = job, false
	}
}

func (j *jobModel) resize() { j.scroll.height = j.c.bodyHeight() }

func (j *jobModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	k := j.c.keys
	switch msg := msg.(type) {
	case jobActionMsg:
		return nil, j.answer(msg)
	case tea.MouseWheelMsg:
		j.scroll.move(wheelDelta(msg))
	case tea.KeyPressMsg:
		if j.scroll.update(msg, k) {
			return nil, nil
		}
		switch {
		case key.Matches(msg, k.pause):
			return j.act(true)
		case key.Matches(msg, k.resume):
			return j.act(false)
		}
	}
	return nil, nil
}

// act pauses or resumes the job, by a command; while one call is in
// flight another key only says so.
func (j *jobModel) act(pause bool) (tea.Cmd, tea.Msg) {
	if j.busy != "" {
		return nil, statusMsg{j.c.styles.warn.Render(fmt.Sprintf("%s %s…: wait for the server's answer", j.busy, j.name))}
	}
	j.busy = "resuming"
	if pause {
		j.busy = "pausing"
	}
	j.seq++
	return j.c.client.jobActionCmd(j.c.ctx, j.seq, j.name, pause), nil
}

// answer takes the server's answer to act and returns what the status
// line says about it.
func (j *jobModel) answer(msg jobActionMsg) tea.Msg {
	if msg.seq != j.seq || msg.name != j.name {
		return nil // of a job no longer shown
	}
	j.busy = ""
	verb := "resume"
	if msg.pause {
		verb = "pause"
	}
	if msg.err != "" {
		return statusMsg{j.c.styles.errorText.Render(fmt.Sprintf("cannot %s %s: %s", verb, j.name, msg.err))}
	}
	j.job, j.gone = msg.job, false
	js := msg.job.GetStatus()
	if msg.pause {
		return statusMsg{fmt.Sprintf("paused %s at offset %d; r resumes it from there", j.name, js.GetCursor())}
	}
	return statusMsg{fmt.Sprintf("resumed %s: it runs from offset %d now", j.name, js.GetCursor())}
}

func (j *jobModel) title() string { return "job " + j.name }

// jobLabelW is the width of the labels of the status fields.
const jobLabelW = 14

func (j *jobModel) view(w, h int) []string {
	st := j.c.styles
	job := j.job
	js := job.GetStatus()
	field := func(label, value string) string { return pad(label, jobLabelW) + value }
	lines := []string{
		st.title.Render("job "+job.GetName()) + st.dim.Render(fmt.Sprintf(" · %s · stream %s → data connector %s", job.GetKind(), job.GetStream(), job.GetDataConnector())),
	}
	if j.gone {
		lines = append(lines, st.warn.Render("the server no longer lists this job: it was deleted"))
	}
	lines = append(lines, "")

	state := jobStateText(js.GetState())
	switch js.GetState() {
	case v1.JobState_JOB_STATE_FAILED:
		state = st.errorText.Render(state) + st.dim.Render(" · retry budget spent; r resumes it")
	case v1.JobState_JOB_STATE_PAUSED:
		state = st.dim.Render(state + " · r resumes it")
	case v1.JobState_JOB_STATE_RUNNING:
		state += st.dim.Render(" · p pauses it")
	}
	if j.busy != "" {
		state += st.warn.Render(" · " + j.busy + "…")
	}
	lines = append(lines,
		field("state", state),
		field("cursor", "offset "+thousands(js.GetCursor())),
		field("lag", thousands(js.GetLag())+" events"),
		field("events", thousands(js.GetEventsExported())+" exported"),
		field("bytes", thousands(js.GetBytesExported())+" written"),
		field("objects", thousands(js.GetObjectsWritten())+" written"),
		field("last success", j.timeText(js.GetLastSuccessTime(), "never")),
	)
	if js.GetLastError() == "" {
		lines = append(lines, field("last error", "none"))
	} else {
		lines = append(lines, field("last error", j.timeText(js.GetLastErrorTime(), "(no time)")))
		for _, l := range wrap(js.GetLastError(), w-jobLabelW) {
			lines = append(lines, pad("", jobLabelW)+st.errorText.Render(l))
		}
	}
	lines = append(lines, field("retries", fmt.Sprintf("%d since the last success", js.GetRetries())))
	next := j.timeText(js.GetNextRunTime(), "not scheduled")
	if js.GetNextRunTime() == nil && js.GetState() != v1.JobState_JOB_STATE_RUNNING {
		next += " (" + strings.ToLower(jobStateText(js.GetState())) + ")"
	}
	lines = append(lines,
		field("next run", next),
		field("created", j.timeText(job.GetCreateTime(), "–")),
		"",
		st.title.Render("config"),
	)
	for _, l := range configLines(job) {
		lines = append(lines, "  "+l)
	}
	j.scroll.fit(len(lines), h)
	return lines[j.scroll.offset:]
}

// timeText is a time of the server's clock, with how far it is from the
// server's now when the UI knows it; none when t is unset.
func (j *jobModel) timeText(t *timestamppb.Timestamp, none string) string {
	c := j.c
	if t == nil {
		return none
	}
	at := t.AsTime()
	s := c.fmtTime(at, "2006-01-02 15:04:05 MST")
	if c.clock != nil && c.clock.Now != nil {
		switch d := at.Sub(c.clock.Now.AsTime()).Round(time.Second); {
		case d > 0:
			s += " (in " + d.String() + ")"
		case d < 0:
			s += " (" + (-d).String() + " ago)"
		default:
			s += " (now)"
		}
	}
	return s
}

// configLines is a job's config as indented JSON, keys sorted.
func configLines(job *v1.Job) []string {
	cfg := job.GetConfig()
	if cfg == nil || len(cfg.GetFields()) == 0 {
		return []string{"{}"}
	}
	b, err := json.MarshalIndent(cfg.AsMap(), "", "  ")
	if err != nil {
		return []string{"cannot show the config: " + err.Error()}
	}
	return strings.Split(string(b), "\n")
}

func (j *jobModel) status() string {
	st := j.c.styles
	if j.busy != "" {
		return st.warn.Render(fmt.Sprintf("%s %s…", j.busy, j.name))
	}
	if js := j.job.GetStatus(); js.GetState() == v1.JobState_JOB_STATE_FAILED {
		return st.errorText.Render(fmt.Sprintf("%s failed after %d retries: r resumes it", j.name, js.GetRetries()))
	}
	return st.dim.Render(fmt.Sprintf("refreshed every %s with the stream list", j.c.opts.Refresh))
}

func (j *jobModel) bindings() []key.Binding {
	k := j.c.keys
	return []key.Binding{k.up, k.down, k.pause, k.resume}
}

func (j *jobModel) shortHelp() []key.Binding {
	k := j.c.keys
	return []key.Binding{k.pause, k.resume}
}

func (j *jobModel) keysSource() string { return "" }
