package main

import (
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// TestGetUsage counts events in windows on a virtual clock: 4 at 12:00, 1
// at 12:07, 2 at 12:12 (the derived stream demo-2 shows 2, 1 and 2 of
// them).
func TestGetUsage(t *testing.T) {
	c := newCLIWith(t, strmtest.WithVirtualClock(t0))
	sendDemo(c)
	c.mustRun("clock advance 7m")
	c.stdin = demoEvent("[2]", "session-2") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	c.mustRun("clock advance 5m")
	c.stdin = demoEvent("[2]", "session-1") + "\n" + demoEvent("[3]", "session-3") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	c.stdin = ""

	c.expect("list streams", 0,
		"NAME    DERIVED FROM  CONSENT       EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"demo                                7       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n"+
			"demo-2  demo          cumulative 2  -       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n", "")
	c.expect("get stream demo-2", 0,
		"NAME    DERIVED FROM  CONSENT       EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"demo-2  demo          cumulative 2  -       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n", "")

	c.expect("get usage demo --from 2026-11-22T12:00:00Z --until 2026-11-22T12:15:00Z", 0,
		"from,count,rate\n"+
			"2026-11-22T12:00:00Z,4,0.0133\n"+
			"2026-11-22T12:05:00Z,1,0.0033\n"+
			"2026-11-22T12:10:00Z,2,0.0067\n", "")
	c.expect("get usage demo-2 --from 2026/11/22-12:00 --until 2026/11/22-12:15 --by 300", 0,
		"from,count,rate\n"+
			"2026-11-22T12:00:00Z,2,0.0067\n"+
			"2026-11-22T12:05:00Z,1,0.0033\n"+
			"2026-11-22T12:10:00Z,2,0.0067\n", "")
	// Windows aligned to --by: the first and the last are shorter, and
	// their rates are over their own length.
	c.expect("get usage demo --from 2026-11-22T11:59:00Z --until 2026-11-22T12:12:30Z --by 10m", 0,
		"from,count,rate\n"+
			"2026-11-22T11:59:00Z,0,0\n"+
			"2026-11-22T12:00:00Z,5,0.0083\n"+
			"2026-11-22T12:10:00Z,2,0.0133\n", "")
	// The defaults: the hour before now (12:12) by 5m; the last window
	// holds the events accepted at now.
	c.expect("get usage demo", 0,
		"from,count,rate\n"+
			"2026-11-22T11:12:00Z,0,0\n"+
			"2026-11-22T11:15:00Z,0,0\n"+
			"2026-11-22T11:20:00Z,0,0\n"+
			"2026-11-22T11:25:00Z,0,0\n"+
			"2026-11-22T11:30:00Z,0,0\n"+
			"2026-11-22T11:35:00Z,0,0\n"+
			"2026-11-22T11:40:00Z,0,0\n"+
			"2026-11-22T11:45:00Z,0,0\n"+
			"2026-11-22T11:50:00Z,0,0\n"+
			"2026-11-22T11:55:00Z,0,0\n"+
			"2026-11-22T12:00:00Z,4,0.0133\n"+
			"2026-11-22T12:05:00Z,1,0.0033\n"+
			"2026-11-22T12:10:00Z,2,0.0167\n", "")
	c.expect("get usage demo --from 2026-11-22T12:00:00Z --until 2026-11-22T12:13:00Z --by 1d -o json", 0, `{
  "from": "2026-11-22T12:00:00Z",
  "until": "2026-11-22T12:13:00Z",
  "by": "86400s",
  "windows": [
    {
      "from": "2026-11-22T12:00:00Z",
      "until": "2026-11-22T12:13:00Z",
      "count": "7",
      "rate": 0.008974358974358974
    }
  ]
}
`, "")

	for _, tc := range []struct{ args, err string }{
		{"get usage demo --by 0", "--by: must be at least 1s"},
		{"get usage demo --by 500ms", "--by: must be at least 1s"},
		{"get usage demo --by -5m", "--by: must be at least 1s"},
		{"get usage demo --by often", `--by: cannot read "often" as a window length: use seconds (300) or a duration such as 5m, 1h or 1d`},
		{"get usage demo --from yesterday", `--from: cannot read "yesterday" as a time: use RFC 3339 (2026-11-22T12:00:00Z) or 2026/11/22-12:00 (UTC)`},
		{"get usage demo --until 2026-11-22", `--until: cannot read "2026-11-22" as a time: use RFC 3339 (2026-11-22T12:00:00Z) or 2026/11/22-12:00 (UTC)`},
		{"get usage demo --from 2026-11-22T13:00:00Z --until 2026-11-22T12:00:00Z", "--from: must be before --until (from 2026-11-22T13:00:00Z, until 2026-11-22T12:00:00Z)"},
		{"get usage demo --from 2026-11-22T13:00:00Z", "--from: must be before --until (from 2026-11-22T13:00:00Z, until 2026-11-22T12:12:00Z)"},
		{"get usage demo --from 2026/11/1-00:00 --by 1s", "--by: 1s from 2026-11-01T00:00:00Z until 2026-11-22T12:12:00Z makes 1858320 windows, over the limit of 10000: use a larger --by or a shorter span"},
		{"get usage nope", `stream "nope" not found (streams: demo, demo-2)`},
		{"get usage", "accepts 1 arg(s), received 0"},
	} {
		c.expect(tc.args, 1, "", "strmlocal: "+tc.err+"\n")
	}
}
