package rpc

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// The reason of a refused event comes from the kind of its error, never
// from its message.
func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&engine.RejectError{Rule: engine.RuleSize, Msg: "x"}, "too_large"},
		{&engine.RejectError{Rule: engine.RuleDecode}, "decode"},
		{&engine.RejectError{Rule: engine.RuleSerialization}, "schema"},
		{&engine.RejectError{Rule: engine.RuleEventContract}, "contract"},
		{&engine.RejectError{Rule: engine.RuleSchemaRef}, "contract"},
		{&engine.RejectError{Rule: engine.RuleConsentLevels}, "consent"},
		{&engine.RejectError{Rule: engine.RuleKeyField}, "validation"},
		{&engine.RejectError{Rule: "regex"}, "validation"},
		{fmt.Errorf("wrapped: %w", &engine.RejectError{Rule: "regex"}), "validation"},
		{fmt.Errorf("%w: schema acme/x/1.0.0 not found", catalog.ErrNotFound), "schema"},
		{fmt.Errorf("%w: schema is DRAFT", catalog.ErrState), "schema"},
		{fmt.Errorf("%w: stream is derived", app.ErrDerived), "derived"},
		{connect.NewError(connect.CodeFailedPrecondition, errors.New("stream demo-2 is derived")), "derived"},
		{connect.NewError(connect.CodeUnauthenticated, errors.New("bad secret")), "unauthenticated"},
		{connect.NewError(connect.CodePermissionDenied, errPermission), "unauthenticated"},
		{fmt.Errorf("%w: bad credentials", catalog.ErrUnauthenticated), "unauthenticated"},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("a batch holds at most 10 events")), "request"},
		{app.ErrStorageFull, "storage"},
		{errors.New("log: write: disk on fire"), "storage"},
	} {
		if got := reasonNames[reasonOf(tc.err)]; got != tc.want {
			t.Errorf("reasonOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// BenchmarkIngested measures what counting costs an ingest call: a
// stream's series are resolved once, so a call is one map read under a
// read lock, a histogram observation and the counter additions.
func BenchmarkIngested(b *testing.B) {
	m := newMetrics()
	res := make([]app.Result, 256)
	res[7].Err = &engine.RejectError{Rule: "regex"}
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.ingested(pathConnect, "clicks", start, res, nil, len(res))
	}
}
