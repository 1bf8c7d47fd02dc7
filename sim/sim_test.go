package sim_test

import (
	"fmt"
	"testing"

	"github.com/strmlocal/strmlocal/sim"
)

func TestParseConsentLevels(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"", "0", "0/1", "0/1/2", "0/1/2/3"}, "[[] [0] [0 1] [0 1 2] [0 1 2 3]]"},
		{[]string{" 3/7 "}, "[[3 7]]"},
		{nil, `no consent levels: give at least one entry, e.g. "",0,0/1`},
		{[]string{"0/-1"}, `consent levels "0/-1": "-1" is not a level (a whole number from 0); write entries like 0/1/2`},
		{[]string{"0,1"}, `consent levels "0,1": "0,1" is not a level (a whole number from 0); write entries like 0/1/2`},
		{[]string{"1/"}, `consent levels "1/": "" is not a level (a whole number from 0); write entries like 0/1/2`},
	} {
		got, err := sim.ParseConsentLevels(tc.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if s != tc.want {
			t.Errorf("ParseConsentLevels(%q) = %s, want %s", tc.in, s, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	defs := catalogue(t)
	for _, tc := range []struct {
		name string
		cfg  sim.Config
		defs map[string]string
		want string
	}{
		{"pageviews", sim.Config{}, defs, `unknown simulator "pageviews": use demo, clickstream, sensors`},
		{"demo", sim.Config{InvalidRatio: 1.5}, defs, "invalid ratio 1.5: give a fraction from 0 to 1"},
		{"demo", sim.Config{Sessions: -1}, defs, "sessions -1: give a positive number"},
		{"demo", sim.Config{}, map[string]string{}, "no definition of schema streammachine/demo/1.0.2"},
		{"clickstream", sim.Config{}, map[string]string{"streammachine/clickstream/1.0.0": defs["streammachine/demo/1.0.2"]},
			`schema streammachine/clickstream/1.0.0 does not fit the simulator: avro: record io.streammachine.schemas.demo.v1.DemoEvent is missing required field "consistentValue"`},
	} {
		_, err := sim.New(tc.name, tc.cfg, tc.defs)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%s): %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := sim.SchemaRefs("x"); err == nil || err.Error() != `unknown simulator "x": use demo, clickstream, sensors` {
		t.Errorf("SchemaRefs: %v", err)
	}
}
