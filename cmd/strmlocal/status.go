package main

import (
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

func newStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the server: version, data, uptime, clock, streams, events, jobs, disk use",
		Long: `Show the server this command talks to (--server, STRMLOCAL_SERVER or the
current context): its version and id, where its data is, how long it has
run, its clock, and what it holds. With an admin token set on the server,
give it (--admin-token).`,
		Example: `  strmlocal status
  strmlocal status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.client().Server.GetServerInfo(cmd.Context(), connect.NewRequest(&v1.GetServerInfoRequest{}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			_, err = fmt.Fprint(e.stdout, statusText(e.server, res.Msg))
			return err
		},
	}
}

// statusText is the status block: one "label: value" line each.
func statusText(server string, m *v1.GetServerInfoResponse) string {
	u := m.GetUsage()
	data := m.DataDir
	switch {
	case m.ScaleOut != "":
		data = m.ScaleOut + " (scale-out)"
	case data == "":
		data = "in memory (--ephemeral)"
	}
	clock := "real"
	if u.GetVirtualClock() {
		clock = "virtual"
	}
	uptime := "?"
	if m.StartTime != nil && u.GetNow() != nil && !u.GetVirtualClock() {
		uptime = u.GetNow().AsTime().Sub(m.StartTime.AsTime()).Round(time.Second).String()
	}
	var b strings.Builder
	line := func(label, value string) { fmt.Fprintf(&b, "%-10s %s\n", label+":", value) }
	line("server", server)
	line("version", fmt.Sprintf("%s (data format %d)", m.Version, m.FormatVersion))
	line("server id", m.ServerId)
	line("data", data)
	if u.GetVirtualClock() {
		line("started", rfc3339(m.StartTime)+" (by the virtual clock)")
	} else {
		line("uptime", uptime)
	}
	line("clock", clock+", now "+rfc3339(u.GetNow()))
	line("streams", fmt.Sprintf("%d source, %d derived", u.GetSourceStreams(), u.GetDerivedStreams()))
	line("events", fmt.Sprintf("%d", u.GetEvents()))
	jobs := fmt.Sprintf("%d", u.GetJobs())
	if u.GetJobsFailed() > 0 {
		jobs += fmt.Sprintf(" (%d FAILED: see strmlocal list jobs)", u.GetJobsFailed())
	}
	line("jobs", jobs)
	if m.DataDir != "" {
		line("disk", humanBytes(u.GetDiskBytes()))
	}
	return b.String()
}

// humanBytes is n as 512 B, 3.4 KiB, 12.0 MiB, ….
func humanBytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
