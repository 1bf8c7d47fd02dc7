package app_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

const demoSchema = "streammachine/demo/1.0.2"

func open(t *testing.T, o app.Options) *app.App {
	t.Helper()
	a, err := app.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

func create(t *testing.T, a *app.App, n catalog.NewStream) *catalog.Stream {
	t.Helper()
	st, _, err := a.CreateStream(n)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// demo is a demo event with consent levels and a filler of n bytes in a
// field that is not PII.
func demo(session string, n int, consent ...int) []byte {
	return fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": %s}, "uniqueIdentifier": "u-%s", "consistentValue": "%s", "notSensitiveValue": "%s"}`,
		strings.ReplaceAll(fmt.Sprint(consent), " ", ","), session, session, strings.Repeat("x", n))
}

func ingest(t *testing.T, a *app.App, st *catalog.Stream, bodies ...[]byte) {
	t.Helper()
	res, err := a.Ingest(context.Background(), st, demoSchema, engine.JSON, bodies)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("event %d rejected: %v", i, r.Err)
		}
	}
}

func offsets(recs []app.Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprint(r.Offset))
	}
	return strings.Join(out, ",")
}

// A page stops at the record count or at Options.PageBytes, whichever comes
// first, and a derived stream's page reads on through dropped records.
func TestReadPages(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		// Each event takes about 1,550 bytes (1,354 of JSON): three fit in 5,000.
		a := open(t, app.Options{PageBytes: 5000})
		src := create(t, a, catalog.NewStream{Name: "demo"})
		derived := create(t, a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{2}}})
		for i := range 10 {
			consent := []int{2}
			if i%2 == 1 {
				consent = []int{1} // not in demo-2
			}
			ingest(t, a, src, demo(fmt.Sprint("s", i), 1000, consent...))
		}
		ctx := context.Background()
		for _, tc := range []struct {
			stream      *catalog.Stream
			from        uint64
			limit       int
			wantOffsets string
			wantNext    uint64
		}{
			{src, 0, 0, "0,1,2", 3},
			{src, 3, 2, "3,4", 5},
			{src, 9, 100, "9", 10},
			{src, 10, 100, "", 10},
			{src, 42, 100, "", 42},
			{derived, 0, 0, "0,2,4", 6}, // 5 is dropped, 6 does not fit
			{derived, 5, 1, "6", 7},
			{derived, 9, 100, "", 10},
		} {
			r, err := a.Reader(tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			page, err := r.Read(ctx, tc.from, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := offsets(page.Records); got != tc.wantOffsets || page.Next != tc.wantNext {
				t.Errorf("%s Read(%d, %d) = [%s] next %d, want [%s] next %d", tc.stream.Name, tc.from, tc.limit, got, page.Next, tc.wantOffsets, tc.wantNext)
			}
		}

		// A derived record shows its view; the source's stays encrypted.
		r, _ := a.Reader(derived)
		page, _ := r.Read(ctx, 0, 1)
		if got := page.Records[0].Applied.Decrypted; fmt.Sprint(got) != "[consistentValue uniqueIdentifier]" {
			t.Errorf("decrypted = %v", got)
		}
		if !strings.Contains(page.Records[0].JSON, `"consistentValue":"s0"`) {
			t.Errorf("derived JSON without the plaintext: %.200s", page.Records[0].JSON)
		}
	})
}

func TestSeek(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		vc := clock.NewVirtual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		a := open(t, app.Options{Clock: vc})
		src := create(t, a, catalog.NewStream{Name: "demo"})
		ingest(t, a, src, demo("a", 1, 1), demo("b", 1, 1))
		if _, err := a.Advance(time.Hour); err != nil {
			t.Fatal(err)
		}
		ingest(t, a, src, demo("c", 1, 1))
		r, _ := a.Reader(src)
		for _, tc := range []struct {
			name  string
			start app.Start
			want  uint64
		}{
			{"beginning", app.FromBeginning(), 0},
			{"end", app.FromEnd(), 3},
			{"offset", app.FromOffset(1), 1},
			{"time before", app.FromTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), 0},
			{"time between", app.FromTime(time.Date(2026, 1, 2, 3, 30, 0, 0, time.UTC)), 2},
			{"time after", app.FromTime(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)), 3},
		} {
			if got, err := r.Seek(tc.start); err != nil || got != tc.want {
				t.Errorf("Seek(%s) = %d, %v; want %d", tc.name, got, err, tc.want)
			}
		}
	})
}

// A follower returns what is new, bounded in bytes (a large batch of the
// log comes out over several calls), skips what the view drops, wakes on
// appends, and ends with the stream or the App.
func TestFollow(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		a := open(t, app.Options{PageBytes: 5000})
		src := create(t, a, catalog.NewStream{Name: "demo"})
		derived := create(t, a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Granular, Levels: []int32{1, 2}}})
		rs, _ := a.Reader(src)
		rd, _ := a.Reader(derived)
		fs, fd := rs.Follow(0), rd.Follow(0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()

		var bodies [][]byte
		for i := range 7 {
			consent := []int{1, 2}
			if i >= 4 {
				consent = []int{2} // not in demo-1-2
			}
			bodies = append(bodies, demo(fmt.Sprint("s", i), 1000, consent...))
		}
		ingest(t, a, src, bodies...) // one append: one batch of the log
		var got []string
		for range 3 {
			recs, err := fs.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, offsets(recs))
		}
		if want := "0,1,2 3,4,5 6"; strings.Join(got, " ") != want {
			t.Errorf("source follow steps %q, want %q", strings.Join(got, " "), want)
		}
		recs, err := fd.Next(ctx)
		if err != nil || offsets(recs) != "0,1,2" {
			t.Fatalf("derived first step [%s] %v", offsets(recs), err)
		}
		recs, err = fd.Next(ctx)
		if err != nil || offsets(recs) != "3" {
			t.Fatalf("derived second step [%s] %v", offsets(recs), err)
		}

		// Dropped records do not end a step: the follower waits for one shown.
		done := make(chan string)
		go func() {
			recs, err := fd.Next(ctx)
			done <- fmt.Sprintf("[%s] %v", offsets(recs), err)
		}()
		ingest(t, a, src, demo("late", 1, 2))
		ingest(t, a, src, demo("late", 1, 1, 2))
		if got, want := <-done, "[8] <nil>"; got != want {
			t.Errorf("after appends: %s, want %s", got, want)
		}

		if _, err := a.DeleteStream("demo", true); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Next(ctx); !errors.Is(err, log.ErrDropped) {
			t.Errorf("after delete: %v, want log.ErrDropped", err)
		}
	})
}

func TestRefusals(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		a := open(t, app.Options{})
		create(t, a, catalog.NewStream{Name: "demo"})
		derived := create(t, a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{2}}})
		for _, tc := range []struct {
			name string
			err  error
			kind error
			want string
		}{
			{"ingest into derived", func() error {
				_, err := a.Ingest(context.Background(), derived, demoSchema, 0, [][]byte{demo("s", 1, 2)})
				return err
			}(), app.ErrDerived, `stream "demo-2" is derived from "demo" and accepts no events; send to "demo"`},
			{"key links of derived", func() error { _, err := a.KeyLinks("demo-2"); return err }(), app.ErrDerived,
				`stream "demo-2" is derived from "demo"; key links belong to the source stream "demo"`},
			{"forget nobody", func() error { _, err := a.Forget(""); return err }(), app.ErrInvalid, "dataSubjectId: must not be empty"},
			{"advance a real clock", func() error { _, err := a.Advance(time.Hour); return err }(), app.ErrRealClock,
				"the server runs on the real clock; start it with --clock virtual to move time"},
			{"masked field of a missing contract", func() error {
				_, _, err := a.CreateStream(catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{1}, Masked: map[string][]string{"a/b/1.0.0": {"x"}}}})
				return err
			}(), app.ErrInvalid, "masked: event contract a/b/1.0.0 not found"},
		} {
			if tc.err == nil || tc.err.Error() != tc.want || !errors.Is(tc.err, tc.kind) {
				t.Errorf("%s: %v\nwant %q matching %v", tc.name, tc.err, tc.want, tc.kind)
			}
		}
	})
}

func TestForgetCounts(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		a := open(t, app.Options{})
		create(t, a, catalog.NewStream{Name: "clicks"})
		st, _ := a.Streams().Get("clicks")
		click := func(session, customer string) []byte {
			return fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0]}, "producerSessionId": "%s", "url": "https://shop.example/", "eventType": "view", "referrer": "", "userAgent": "test", "conversion": 0, "abTests": [], "customer": {"id": "%s"}}`, session, customer)
		}
		res, err := a.Ingest(context.Background(), st, "streammachine/clickstream/1.0.0", engine.JSON,
			[][]byte{click("s1", "alice"), click("s1", "alice"), click("s2", "alice"), click("s3", "bob")})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		f, err := a.Forget("alice")
		if err != nil || f != (app.Forgotten{KeyLinks: 2, Events: 3}) {
			t.Errorf("Forget(alice) = %+v, %v; want 2 key links, 3 events", f, err)
		}
	})
}

// A data file found corrupt while the server runs makes Ready say so, with
// no file name (the health endpoints answer anyone), and the read that met
// it fails; nothing panics.
func TestReadyReportsCorruptionFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	a, err := app.Open(app.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st := create(t, a, catalog.NewStream{Name: "demo"})
	var bodies [][]byte
	for i := range 200 {
		bodies = append(bodies, demo(fmt.Sprint("s", i), 2000, 1))
	}
	ingest(t, a, st, bodies...)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The next open flushes what the log replays into a table and checks
	// it; the one after finds it checked.
	for range 2 {
		a, err = app.Open(app.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no table written")
	}
	for _, p := range ssts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a = open(t, app.Options{DataDir: dir})
	if err := a.Ready(); err != nil {
		t.Fatalf("Ready before the damage is met: %v", err)
	}
	st, _ = a.Streams().Get("demo")
	r, _ := a.Reader(st)
	if _, err := r.Read(context.Background(), 0, app.MaxPageRecords); err == nil {
		t.Fatal("a read over the damage succeeded")
	}
	want := "store: data dir is corrupt: a data file failed its checksum while running (the server log names it); reads that meet it fail: stop the server, then restore the data dir from a copy or move it away"
	if err := a.Ready(); !errors.Is(err, app.ErrCorrupt) || err.Error() != want {
		t.Fatalf("Ready = %v\nwant %s", err, want)
	}
}

// Defect: a data dir whose log the log refused at Open (here a stream
// state that does not decode) made Open panic while it closed what it had
// opened (a nil *log.Log in a non-nil interface). Open returns the log's
// error.
func TestOpenRefusesInconsistentLogWithoutPanic(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k := binary.BigEndian.AppendUint64([]byte{store.SpaceLog, 's'}, 999)
	if err := st.DB.Set(k, []byte{0xff}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(app.Options{DataDir: dir})
	if err == nil {
		_ = a.Close()
	}
	want := "log: stream state does not match its records: stream 999: log: corrupt data: stream state"
	if !errors.Is(err, log.ErrInconsistent) || err.Error() != want {
		t.Fatalf("Open = %v\nwant %s", err, want)
	}
}

// Defect: a table damaged after the Open that checked it (tables are
// checked once, docs/storage.md), where the next Open reads it, made Open
// fail with Pebble's own error on two lines, without naming the data
// dir's state or what to do. It is refused as corrupt, in one line.
func TestOpenRefusesTableDamagedAfterItsCheck(t *testing.T) {
	dir := t.TempDir()
	a := open(t, app.Options{DataDir: dir})
	st := create(t, a, catalog.NewStream{Name: "demo"})
	var bodies [][]byte
	for i := range 200 {
		bodies = append(bodies, demo(fmt.Sprint("s", i), 200, 1))
	}
	ingest(t, a, st, bodies...)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first flushes the WAL into a table and checks it
		b, err := app.Open(app.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) != 1 {
		t.Fatalf("tables %v, want one", ssts)
	}
	b, err := os.ReadFile(ssts[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(b)-100; i += 1024 { // every block, before the footer
		b[i] ^= 0xff
	}
	if err := os.WriteFile(ssts[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = app.Open(app.Options{DataDir: dir})
	want := regexp.MustCompile(`^store: data dir is corrupt: ` + regexp.QuoteMeta(ssts[0]) + `: block \d+/\d+: crc32c checksum mismatch [0-9a-f]+ != [0-9a-f]+; ` +
		regexp.QuoteMeta("`strmlocal repair` cannot mend a table: restore the data dir from a copy, or move it away to start afresh") + `$`)
	if !errors.Is(err, app.ErrCorrupt) || !want.MatchString(err.Error()) {
		t.Fatalf("Open = %q\nwant %s", err, want)
	}
}
