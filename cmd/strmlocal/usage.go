package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

type usageOptions struct {
	from, until, by string
}

func newGetUsageCmd(e *env) *cobra.Command {
	var o usageOptions
	cmd := &cobra.Command{
		Use:   "usage STREAM [--from T] [--until T] [--by 5m]",
		Short: "Show a stream's event counts in time windows",
		Long: `Show how many events a stream accepted in each window of a time span, as
the original platform's usage command did: one line per window with its
start, the count and the rate (events per second), after a from,count,rate
header.

The span defaults to the hour before now (the server clock): --until T (default
now) and --from T (default an hour before --until), as RFC 3339
(2026-11-22T12:00:00Z) or as the original took them (2026/11/22-12:00, UTC).
--by is the window length (default 5m; seconds, or 15m, 1h, 1d), at least 1s,
at most 10,000 windows; windows are aligned to multiples of it, so the first
and the last may be shorter. A source stream counts the events it retains,
from its time index; a derived stream counts what it shows, reading at most
1,000,000 events of its source.`,
		Example: `  strmlocal get usage demo
  strmlocal get usage demo --from 2026-11-22T00:00:00Z --until 2026-11-23T00:00:00Z --by 1h
  strmlocal get usage demo --by 1d --from 2026/11/1-00:00 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args[0])
			if err != nil {
				return err
			}
			res, err := e.streams().GetStreamUsage(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			var b strings.Builder
			b.WriteString("from,count,rate\n")
			for _, w := range res.Msg.Windows {
				fmt.Fprintf(&b, "%s,%d,%s\n", w.From.AsTime().UTC().Format(time.RFC3339), w.Count, formatRate(w.Rate))
			}
			_, err = fmt.Fprint(e.stdout, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "start of the span (RFC 3339 or 2006/1/2-15:04 UTC; default an hour before --until)")
	f.StringVar(&o.until, "until", "", "end of the span (RFC 3339 or 2006/1/2-15:04 UTC; default now, by the server clock)")
	f.StringVar(&o.by, "by", "5m", "window length: seconds, or a duration such as 15m, 1h, 1d; at least 1s")
	return cmd
}

// request is the GetStreamUsage request of the flags. The server fills in
// the defaults and checks the span and the window count.
func (o usageOptions) request(cmd *cobra.Command, name string) (*v1.GetStreamUsageRequest, error) {
	req := &v1.GetStreamUsageRequest{Name: name}
	for _, t := range []struct {
		flag, value string
		dst         **timestamppb.Timestamp
	}{{"from", o.from, &req.From}, {"until", o.until, &req.Until}} {
		if !cmd.Flags().Changed(t.flag) {
			continue
		}
		v, err := parseUsageTime(t.value)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", t.flag, err)
		}
		*t.dst = timestamppb.New(v)
	}
	by, err := parseUsageBy(o.by)
	if err != nil {
		return nil, fmt.Errorf("--by: %w", err)
	}
	if by < time.Second {
		return nil, fmt.Errorf("--by: must be at least 1s")
	}
	req.By = durationpb.New(by)
	return req, nil
}

// usageTimeLayout is how the original's usage command took times.
const usageTimeLayout = "2006/1/2-15:04"

func parseUsageTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(usageTimeLayout, s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time: use RFC 3339 (2026-11-22T12:00:00Z) or 2026/11/22-12:00 (UTC)", s)
}

// parseUsageBy reads a window length: a number of seconds, or a duration
// with the units of Go and d for days.
func parseUsageBy(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) {
			n = math.MaxInt64 / int64(time.Second)
		}
		return time.Duration(n) * time.Second, nil
	}
	bad := false
	hours := daysRE.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseFloat(m[:len(m)-1], 64)
		bad = bad || err != nil
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	d, err := time.ParseDuration(hours)
	if bad || err != nil {
		return 0, fmt.Errorf("cannot read %q as a window length: use seconds (300) or a duration such as 5m, 1h or 1d", s)
	}
	return d, nil
}

// formatRate prints events per second with at most 4 decimals.
func formatRate(r float64) string {
	return strconv.FormatFloat(math.Round(r*1e4)/1e4, 'f', -1, 64)
}
