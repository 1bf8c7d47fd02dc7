package pgkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/store/kvtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a KV on dsn and closes it when the test ends.
func open(t testing.TB, dsn string, opts Options) *KV {
	t.Helper()
	kv, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(kv.Close)
	return kv
}

// fresh opens a KV on a new database of the shared server.
func fresh(t *testing.T, opts Options) (*KV, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t, pgtest.Shared(t))
	return open(t, dsn, opts), dsn
}

func commit(t *testing.T, kv store.KV, fn func(b store.Batch)) {
	t.Helper()
	b := kv.NewBatch()
	defer b.Close()
	fn(b)
	if err := b.Commit(true); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) store.KV {
		kv, _ := fresh(t, Options{})
		return kv
	})
}

// With pages of 3 rows, every scan of the suite crosses pages, ends on a
// page's last row, or on a short page.
func TestConformanceSmallPages(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) store.KV {
		kv, _ := fresh(t, Options{PageRows: 3})
		return kv
	})
}

// bytea orders as bytes.Compare does, through pages, for keys dense in
// 0x00 and 0xff bytes.
func TestByteOrder(t *testing.T) {
	kv, _ := fresh(t, Options{PageRows: 64})
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{0x00, 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0xff, 'a'}
	model := map[string]string{}
	b := kv.NewBatch()
	for len(model) < 2000 {
		k := make([]byte, 1+rng.IntN(4))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		v := fmt.Sprint(len(model))
		model[string(k)] = v
		b.Set(k, []byte(v))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	keys := make([][]byte, 0, len(model))
	for k := range model {
		keys = append(keys, []byte(k))
	}
	slices.SortFunc(keys, bytes.Compare)

	snap := kv.NewSnapshot()
	defer snap.Close()
	check := func(r store.Reader, lo, hi []byte) {
		t.Helper()
		var want [][]byte
		for _, k := range keys {
			if bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0) {
				want = append(want, k)
			}
		}
		var got [][]byte
		if err := r.Scan(lo, hi, func(k, v []byte) error {
			if model[string(k)] != string(v) {
				return fmt.Errorf("key %x: value %q, want %q", k, v, model[string(k)])
			}
			got = append(got, bytes.Clone(k))
			return nil
		}); err != nil {
			t.Fatalf("Scan(%x, %x): %v", lo, hi, err)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("Scan(%x, %x): %d keys, not the %d keys in bytes.Compare order", lo, hi, len(got), len(want))
		}
	}
	check(kv, nil, nil)
	check(snap, nil, nil)
	for range 30 {
		lo, hi := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
		if bytes.Compare(lo, hi) > 0 {
			lo, hi = hi, lo
		}
		check(kv, lo, hi)
		check(snap, lo, hi)
		check(kv, lo, nil)
	}
}

func TestMigrations(t *testing.T) {
	dsn := pgtest.NewDatabase(t, pgtest.Shared(t))
	// Gateways starting at once: each migrates or finds it done.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kv, err := Open(context.Background(), dsn, Options{})
			if err == nil {
				kv.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of 4 at once: %v", i, err)
		}
	}
	kv := open(t, dsn, Options{}) // and once more, later
	commit(t, kv, func(b store.Batch) { b.Set([]byte("k"), []byte("v")) })
	kv.Close()
	kv = open(t, dsn, Options{})
	if v, err := kv.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Errorf("Get after opening again: %q, %v", v, err)
	}

	conn := adminConn(t, dsn)
	rows, err := conn.Query(context.Background(), `SELECT version FROM strmlocal_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1}) || SchemaVersion() != 1 {
		t.Errorf("strmlocal_migrations holds %v, want [1] (SchemaVersion %d)", versions, SchemaVersion())
	}
}

func adminConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewerSchemaRefused(t *testing.T) {
	kv, dsn := fresh(t, Options{})
	kv.Close()
	conn := adminConn(t, dsn)
	if _, err := conn.Exec(context.Background(), `INSERT INTO strmlocal_migrations (version) VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn, Options{})
	const want = "postgres state: the database's schema is at version 2, newer than this strmlocal knows (1): upgrade strmlocal, or point it at another database"
	if err == nil || err.Error() != want {
		t.Fatalf("Open of a newer schema: %v, want %q", err, want)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Error("the refusal of a newer schema matches ErrUnavailable")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestUnreachable(t *testing.T) {
	port := freePort(t)
	for _, dsn := range []string{
		fmt.Sprintf("postgres://strmlocal:s3cret-pw@127.0.0.1:%d/strmlocal?sslmode=disable", port),
		fmt.Sprintf("host=127.0.0.1 port=%d user=strmlocal password=s3cret-pw dbname=strmlocal sslmode=disable", port),
	} {
		start := time.Now()
		_, err := Open(context.Background(), dsn, Options{})
		want := fmt.Sprintf("postgres state: cannot connect to 127.0.0.1:%d: dial tcp 127.0.0.1:%d: connect: connection refused", port, port)
		if err == nil || err.Error() != want {
			t.Errorf("Open(%s): %v, want %q", RedactDSN(dsn), err, want)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Open of an unreachable server: %v does not match ErrUnavailable", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Open of an unreachable server took %v", d)
		}
	}

	// DSNs pgx cannot parse: the message names them, without the password.
	for dsn, want := range map[string]string{
		"postgres://strmlocal:s3cret-pw@127.0.0.1:notaport/strmlocal": "postgres state: invalid connection string postgres://strmlocal:xxxxx@127.0.0.1:notaport/strmlocal: invalid port",
		"host=127.0.0.1 port=x password=s3cret-pw":                    "postgres state: invalid connection string host=127.0.0.1 port=x password=xxxxx: invalid port",
	} {
		if _, err := Open(context.Background(), dsn, Options{}); err == nil || err.Error() != want {
			t.Errorf("Open of an invalid DSN: %v, want %q", err, want)
		}
	}
	_, err := Open(context.Background(), "postgres://strmlocal:s3cret%zz@127.0.0.1/strmlocal", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.HasPrefix(err.Error(), "postgres state: invalid connection string postgres://strmlocal:xxxxx@127.0.0.1/strmlocal: ") {
		t.Errorf("Open of a DSN with a bad escape in its password: %v", err)
	}
}

func TestRedactDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=disable":        "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://u@h/db":                                "postgres://u@h/db",
		"postgresql://h/db?user=u&password=pw":             "postgresql://h/db?password=xxxxx&user=u",
		"postgres://u:pw@h:notaport/db":                    "postgres://u:xxxxx@h:notaport/db",
		"host=h user=u password=pw dbname=db":              "host=h user=u password=xxxxx dbname=db",
		"host=h password='p w\\' x' dbname=db":             "host=h password=xxxxx dbname=db",
		"host=h PASSWORD = pw":                             "host=h PASSWORD = xxxxx",
		"postgres://u:p%40ss@h/db":                         "postgres://u:xxxxx@h/db",
		"postgres://u:p%zzss@h/db":                         "postgres://u:xxxxx@h/db",
		"host=/var/run/postgresql user=u dbname=strmlocal": "host=/var/run/postgresql user=u dbname=strmlocal",
	} {
		if got := RedactDSN(dsn); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// payloads as Watch sees them; nil stands for fn(nil).
type watched struct {
	mu   sync.Mutex
	got  [][]byte
	wake chan struct{}
}

func watch(t *testing.T, kv *KV) *watched {
	t.Helper()
	w := &watched{wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := kv.Watch(ctx, func(prefix []byte) {
		w.mu.Lock()
		w.got = append(w.got, prefix)
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	return w
}

// until waits for the calls of fn to end with want, and returns them all.
func (w *watched) until(t *testing.T, want ...[]byte) [][]byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		got := slices.Clone(w.got)
		w.mu.Unlock()
		if len(got) >= len(want) && slices.EqualFunc(got[len(got)-len(want):], want, func(a, b []byte) bool {
			return bytes.Equal(a, b) && (a == nil) == (b == nil)
		}) {
			return got
		}
		select {
		case <-w.wake:
		case <-deadline:
			t.Fatalf("Watch: got %x, want it to end with %x", got, want)
		}
	}
}

func TestWatch(t *testing.T) {
	a, dsn := fresh(t, Options{})
	b := open(t, dsn, Options{})
	wa, wb := watch(t, a), watch(t, b)

	// a's own commit is not reported to a; b sees it.
	commit(t, a, func(bt store.Batch) { bt.Set([]byte("\x09zz"), []byte("mine")) })
	wb.until(t, []byte("\x09z"))

	commit(t, b, func(bt store.Batch) {
		bt.Set([]byte("\x04b1"), []byte("x"))
		bt.Set([]byte("\x02a1"), []byte("x"))
		bt.Set([]byte("\x02a2"), []byte("x"))
		bt.Delete([]byte("\x07"))            // a short key: its prefix is the key
		bt.DeleteRange([]byte("\x02a"), nil) // an empty range changes nothing
	})
	commit(t, b, func(bt store.Batch) { bt.DeleteRange([]byte("\x03\x01x"), []byte("\x03\x01y")) })
	commit(t, b, func(bt store.Batch) { bt.DeleteRange([]byte("\x03\x02"), []byte("\x03\x03")) }) // up to the prefix's end
	commit(t, b, func(bt store.Batch) { bt.DeleteRange([]byte("\x03"), []byte("\x05")) })         // wider than a prefix: anything
	commit(t, b, func(bt store.Batch) { bt.Set([]byte("\x0amark"), []byte("x")) })
	got := wa.until(t, []byte("\x02a"), []byte("\x04b"), []byte("\x07"), []byte("\x03\x01"), []byte("\x03\x02"), nil, []byte("\x0am"))
	for _, p := range got {
		if bytes.Equal(p, []byte("\x09z")) {
			t.Errorf("a's Watch reported a's own commit")
		}
	}

	// A batch that fails its expectation notifies nothing.
	bt := b.NewBatch()
	bt.Expect([]byte("\x0amark"), nil)
	bt.Set([]byte("\x0bno"), []byte("x"))
	if err := bt.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit: %v, want ErrConflict", err)
	}
	commit(t, b, func(bt store.Batch) { bt.Set([]byte("\x0cmark"), []byte("x")) })
	for _, p := range wa.until(t, []byte("\x0cm")) {
		if bytes.Equal(p, []byte("\x0bn")) {
			t.Errorf("a failed commit was reported")
		}
	}
}

func TestPayload(t *testing.T) {
	kv := &KV{id: "ID"}
	for _, tt := range []struct {
		name string
		ops  []op
		want string
	}{
		{"none", nil, ""},
		{"sorted and distinct", []op{{opSet, []byte("\x04bb"), nil}, {opDelete, []byte("\x02a"), nil}, {opSet, []byte("\x04bc"), nil}}, "ID 0261,0462"},
		{"a range within the prefix of lo", []op{{opDeleteRange, []byte("\x03\x01\x00"), []byte("\x03\x02")}}, "ID 0301"},
		{"a range past it", []op{{opDeleteRange, []byte("\x03\x01\x00"), []byte("\x03\x02\x00")}}, "ID *"},
		{"a range from a short lo", []op{{opDeleteRange, []byte("\x03"), []byte("\x04")}}, "ID 03"},
		{"a range of the last prefix", []op{{opDeleteRange, []byte("\xff\xff\x01"), []byte("\xff\xff\xff\xff")}}, "ID ffff"},
		{"an empty range", []op{{opDeleteRange, []byte("b"), []byte("a")}}, ""},
		{"the empty key", []op{{opSet, []byte{}, nil}}, "ID *"},
	} {
		if got := kv.payload(tt.ops); got != tt.want {
			t.Errorf("%s: payload = %q, want %q", tt.name, got, tt.want)
		}
	}
	var many []op
	for i := range 65536 {
		many = append(many, op{opSet, []byte{byte(i >> 8), byte(i)}, nil})
	}
	if got := kv.payload(many); got != "ID *" {
		t.Errorf("payload of 65536 prefixes: %d bytes, want ID *", len(got))
	}
}

// countingTracer counts the statements and round trips of a KV.
type countingTracer struct{ queries, batches, batchQueries atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}
func (c *countingTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.batchQueries.Add(1)
}
func (c *countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *countingTracer) reset() {
	c.queries.Store(0)
	c.batches.Store(0)
	c.batchQueries.Store(0)
}

// A batch of 10,000 Sets is a few statements in one round trip, not
// 10,000; a key Set twice in it keeps its last value.
func TestLargeBatchStatements(t *testing.T) {
	tracer := &countingTracer{}
	kv, _ := fresh(t, Options{tracer: tracer})
	const n = 10_000
	value := func(i, round int) []byte {
		return fmt.Appendf(nil, "value %d of round %d, padded to look like a key link", i, round)
	}
	for round := range 3 {
		b := kv.NewBatch()
		for i := range n {
			b.Set(fmt.Appendf(nil, "\x04link/%05d", i), value(i, round))
		}
		if round == 2 { // and Sets of the same keys again, in the same run
			for i := range n / 2 {
				b.Set(fmt.Appendf(nil, "\x04link/%05d", i), value(i, 3))
			}
		}
		tracer.reset()
		start := time.Now()
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: Commit of %d Sets: %v; %d statements (%d queries, %d in %d batches)",
			round, b.(*batch).len(), time.Since(start), tracer.queries.Load()+tracer.batchQueries.Load(),
			tracer.queries.Load(), tracer.batchQueries.Load(), tracer.batches.Load())
		if q, bq, nb := tracer.queries.Load(), tracer.batchQueries.Load(), tracer.batches.Load(); q+bq > 6 || q+nb != 1 {
			t.Errorf("round %d: Commit of a batch of %d Sets ran %d statements in %d round trips", round, n, q+bq, q+nb)
		}
		b.Close()
	}
	for _, i := range []int{0, n/2 - 1, n / 2, n - 1} {
		want := value(i, 2)
		if i < n/2 {
			want = value(i, 3)
		}
		if v, err := kv.Get(fmt.Appendf(nil, "\x04link/%05d", i)); err != nil || !bytes.Equal(v, want) {
			t.Errorf("key %d: %q, %v, want %q", i, v, err, want)
		}
	}

	// A Get is one query.
	tracer.reset()
	const gets = 1000
	start := time.Now()
	for i := range gets {
		if _, err := kv.Get(fmt.Appendf(nil, "\x04link/%05d", i*7)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Get: %v each (%d queries for %d)", time.Since(start)/gets, tracer.queries.Load(), gets)
	if q := tracer.queries.Load(); q != gets {
		t.Errorf("%d Gets ran %d queries", gets, q)
	}
	// A batch with an Expect: two round trips (the check, then the writes
	// with COMMIT).
	tracer.reset()
	b := kv.NewBatch()
	b.Expect([]byte("\x04absent"), nil)
	b.Set([]byte("\x04absent"), []byte("x"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if q, nb := tracer.queries.Load(), tracer.batches.Load(); q+nb != 2 {
		t.Errorf("a Commit with an Expect took %d round trips (%d queries, %d batches), want 2", q+nb, q, nb)
	}
}

func (b *batch) len() int { return len(b.ops) }

// A Scan's fn holds no connection: with a pool of one, fn can read and
// write the KV.
func TestScanHoldsNoConnection(t *testing.T) {
	kv, _ := fresh(t, Options{MaxConns: 1, PageRows: 10, Timeout: 5 * time.Second})
	b := kv.NewBatch()
	for i := range 35 {
		b.Set(fmt.Appendf(nil, "k%02d", i), []byte("v"))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := kv.Scan([]byte("k"), []byte("l"), func(k, _ []byte) error {
		n++
		if _, err := kv.Get(k); err != nil {
			return err
		}
		b := kv.NewBatch()
		defer b.Close()
		b.Set(append([]byte("w"), k...), []byte("x"))
		return b.Commit(true)
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if n != 35 {
		t.Errorf("Scan called fn %d times, want 35", n)
	}
}

// Two KVs (two gateways) expecting the same absent key: one wins.
func TestExpectAcrossKVs(t *testing.T) {
	a, dsn := fresh(t, Options{})
	kvs := []*KV{a, open(t, dsn, Options{})}
	for r := range 20 {
		k := fmt.Appendf(nil, "\x04current/%02d", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(kvs))
		for i, kv := range kvs {
			b := kv.NewBatch()
			b.Expect(k, nil)
			b.Set(k, fmt.Appendf(nil, "gateway %d", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer b.Close()
				<-start
				errs[i] = b.Commit(true)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: %v", r, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d gateways won: %v", r, won, errs)
		}
	}
}

func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "storage unavailable: ") {
		t.Errorf("%s with the server stopped: %v, want ErrUnavailable", what, err)
	}
}

// Operations fail with ErrUnavailable while the server is down, and work
// again, by themselves, once it is back; so does the watch.
func TestUnavailable(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := pgtest.NewDatabase(t, srv)
	kv := open(t, dsn, Options{Timeout: 5 * time.Second})
	other := open(t, dsn, Options{})
	w := watch(t, kv)
	commit(t, kv, func(b store.Batch) { b.Set([]byte("\x04a"), []byte("1")) })
	before := kv.NewSnapshot()
	defer before.Close()
	if _, err := before.Get([]byte("\x04a")); err != nil {
		t.Fatal(err)
	}

	srv.Stop(t)
	start := time.Now()
	_, err := kv.Get([]byte("\x04a"))
	wantUnavailable(t, "Get", err)
	t.Logf("Get with the server stopped: %v", err)
	wantUnavailable(t, "Scan", kv.Scan(nil, nil, func(k, v []byte) error { return nil }))
	b := kv.NewBatch()
	b.Set([]byte("\x04b"), []byte("2"))
	wantUnavailable(t, "Commit", b.Commit(true))
	b.Close()
	b = kv.NewBatch()
	b.Expect([]byte("\x04c"), nil)
	b.Set([]byte("\x04c"), []byte("3"))
	wantUnavailable(t, "Commit with an Expect", b.Commit(true))
	b.Close()
	snap := kv.NewSnapshot()
	_, err = snap.Get([]byte("\x04a"))
	wantUnavailable(t, "a new snapshot's Get", err)
	snap.Close()
	_, err = before.Get([]byte("\x04a"))
	wantUnavailable(t, "an open snapshot's Get", err)
	wantUnavailable(t, "Watch", kv.Watch(context.Background(), func([]byte) {}))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failures took %v", d)
	}

	srv.Start(t)
	// The first operations after the restart work: the pool drops the
	// connections the restart broke.
	if v, err := kv.Get([]byte("\x04a")); err != nil || string(v) != "1" {
		t.Fatalf("Get after the restart: %q, %v", v, err)
	}
	commit(t, kv, func(b store.Batch) { b.Set([]byte("\x04b"), []byte("2")) })
	wantScan := []string{"\x04a=1", "\x04b=2"}
	var got []string
	if err := kv.Scan(nil, nil, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}); err != nil || !slices.Equal(got, wantScan) {
		t.Errorf("Scan after the restart: %q, %v, want %q", got, err, wantScan)
	}
	snap = kv.NewSnapshot()
	if v, err := snap.Get([]byte("\x04b")); err != nil || string(v) != "2" {
		t.Errorf("a new snapshot's Get after the restart: %q, %v", v, err)
	}
	snap.Close()
	// A snapshot open across the restart stays broken.
	_, err = before.Get([]byte("\x04a"))
	wantUnavailable(t, "a snapshot open across the restart", err)

	// The watch connects again and says that anything may have changed,
	// then reports other commits again.
	w.until(t, nil)
	commit(t, other, func(b store.Batch) { b.Set([]byte("\x05q"), []byte("x")) })
	w.until(t, nil, []byte("\x05q"))
}

// Close closes the snapshots left open and stops the watches; the KV's
// operations then fail.
func TestClose(t *testing.T) {
	kv, _ := fresh(t, Options{})
	snap := kv.NewSnapshot()
	watch(t, kv)
	kv.Close()
	kv.Close() // twice is fine
	if _, err := snap.Get([]byte("k")); err == nil {
		t.Error("Get of a snapshot of a closed KV: no error")
	}
	if _, err := kv.Get([]byte("k")); !errors.Is(err, errClosed) {
		t.Errorf("Get of a closed KV: %v", err)
	}
	b := kv.NewBatch()
	b.Set([]byte("k"), []byte("v"))
	if err := b.Commit(true); !errors.Is(err, errClosed) {
		t.Errorf("Commit on a closed KV: %v", err)
	}
}

// Batches that Delete some keys and Set others, where other batches do
// the reverse, all commit: they lock the rows that exist in one order, and
// the rare deadlock left (over rows that appear meanwhile) that PostgreSQL
// breaks by aborting one is retried by Commit.
func TestConcurrentOverlappingBatches(t *testing.T) {
	dsn := pgtest.NewDatabase(t, pgtest.Shared(t)) + "&deadlock_timeout=20ms"
	kv := open(t, dsn, Options{})
	keys := []string{"\x04a", "\x04b", "\x04c", "\x04d"}
	commit(t, kv, func(b store.Batch) {
		for _, k := range keys {
			b.Set([]byte(k), []byte("0"))
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8*30)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				b := kv.NewBatch()
				for j, k := range keys {
					if (j+g)%2 == 0 {
						b.Set([]byte(k), fmt.Appendf(nil, "%d/%d", g, i))
					} else {
						b.Delete([]byte(k))
					}
				}
				if err := b.Commit(true); err != nil {
					errs <- err
				}
				b.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Commit: %v", err)
	}
	t.Logf("%d of %d commits were retried after a deadlock", kv.serialRetries.Load(), 8*30)
}

func BenchmarkGet(b *testing.B) {
	kv := open(b, pgtest.NewDatabase(b, pgtest.Shared(b)), Options{})
	batch := kv.NewBatch()
	for i := range 1000 {
		batch.Set(fmt.Appendf(nil, "\x04link/%04d", i), make([]byte, 200))
	}
	if err := batch.Commit(true); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := kv.Get(fmt.Appendf(nil, "\x04link/%04d", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit10kSets commits batches of 10,000 new keys of 200 bytes.
func BenchmarkCommit10kSets(b *testing.B) {
	kv := open(b, pgtest.NewDatabase(b, pgtest.Shared(b)), Options{})
	value := make([]byte, 200)
	for i := 0; b.Loop(); i++ {
		batch := kv.NewBatch()
		for j := range 10_000 {
			batch.Set(fmt.Appendf(nil, "\x04b%06d/%05d", i, j), value)
		}
		if err := batch.Commit(true); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
}
