package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// clock is a management client: it uses the admin token.
func (e *env) clock() strmlocalv1connect.ClockServiceClient {
	return e.client().Clock
}

func newClockCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clock",
		Short: "Show or advance the server clock",
		Long: `The server clock is the one source of time for event timestamps, key rotation
and key retention. A server started with --clock virtual keeps its time still
until told to move it, so that the next day (or the end of a key's retention)
is one command away.`,
		Example: `  strmlocal clock show
  strmlocal clock advance 8d`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Show the server's time and whether it is virtual",
		Example: `  strmlocal clock show
  strmlocal clock show -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.clock().GetClock(cmd.Context(), connect.NewRequest(&v1.GetClockRequest{}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			virtual := "no"
			if res.Msg.Virtual {
				virtual = "yes"
			}
			return printTable(e.stdout, []string{"NOW", "VIRTUAL"}, [][]string{{rfc3339(res.Msg.Now), virtual}})
		},
	}, &cobra.Command{
		Use:   "advance DURATION",
		Short: "Move a virtual clock forward",
		Long: `Move a virtual clock forward by DURATION, in Go syntax (90m, 25h, 1h30m) or in
days (8d, 1d12h), and run what became due: keys whose retention ended are
shredded before the command returns. A real clock cannot be moved.`,
		Example: `  strmlocal clock advance 90m
  strmlocal clock advance 1d12h
  strmlocal clock advance 8d -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDuration(args[0])
			if err != nil {
				return err
			}
			res, err := e.clock().AdvanceClock(cmd.Context(), connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(d)}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			msg := fmt.Sprintf("clock advanced by %s to %s: %s shredded", args[0], rfc3339(res.Msg.Now), plural(int(res.Msg.KeysShredded), "key"))
			if res.Msg.JobsRun > 0 {
				msg += fmt.Sprintf(", %s run", plural(int(res.Msg.JobsRun), "job"))
			}
			_, err = fmt.Fprintln(e.stdout, msg)
			return err
		},
	})
	return cmd
}

// daysRE matches a number of days within a duration: "8d", "1.5d".
var daysRE = regexp.MustCompile(`(\d+(?:\.\d*)?|\.\d+)d`)

// parseDuration is time.ParseDuration plus a "d" unit of 24 hours. No other
// unit contains a 'd', so days are rewritten as hours first. The duration
// must be positive.
func parseDuration(s string) (time.Duration, error) {
	invalid := fmt.Errorf("invalid duration %q: use Go syntax (90m, 25h, 1h30m) or days (8d)", s)
	var bad bool
	hours := daysRE.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseFloat(m[:len(m)-1], 64)
		if err != nil {
			bad = true
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	d, err := time.ParseDuration(hours)
	if bad || err != nil {
		return 0, invalid
	}
	if d <= 0 {
		return 0, errors.New("the clock only moves forward: give a positive duration")
	}
	return d, nil
}
