package pgkv

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

const (
	// watchPing is how long a watch waits for a notification before it
	// checks its connection (one that died without a word, in a network
	// partition, would otherwise keep it waiting for ever).
	watchPing = 30 * time.Second
	// The delays between a watch's attempts to connect again.
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 2 * time.Second
)

// Watch calls fn with a prefix of the keys that each commit of another
// KV changed (another gateway process's, or another KV of this one) on
// this database: every key the commit changed starts with one of the
// prefixes fn is called with, each two bytes long (shorter for shorter
// keys). fn(nil) means that anything may have changed: a commit whose
// changes have no short description, or the watch's connection was lost
// and found again (commits in between went unseen). The commits of this KV
// are not reported.
//
// Watch returns once it listens, on a connection of its own: commits after
// it returns are reported. It listens until ctx is done or the KV is
// closed, connecting again by itself after a loss. fn is called from one
// goroutine, one call at a time; a slow fn delays the next calls, not the
// commits.
func (kv *KV) Watch(ctx context.Context, fn func(prefix []byte)) error {
	if kv.closed.Load() {
		return errClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(kv.ctx, cancel)
	conn, err := kv.listen(ctx)
	if err != nil {
		stop()
		cancel()
		return kv.fail("watch", err)
	}
	kv.mu.Lock()
	if kv.closed.Load() { // Close may be waiting for the watches already
		kv.mu.Unlock()
		_ = conn.Close(context.Background())
		stop()
		cancel()
		return errClosed
	}
	kv.wg.Add(1)
	kv.mu.Unlock()
	go func() {
		defer kv.wg.Done()
		defer cancel()
		defer stop()
		kv.watch(ctx, conn, fn)
	}()
	return nil
}

// listen connects outside the pool and LISTENs.
func (kv *KV) listen(ctx context.Context) (*pgx.Conn, error) {
	config := kv.config.ConnConfig.Copy()
	// A wait for notifications cut short by its deadline leaves the
	// connection usable (no cancel request is sent).
	config.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cctx, cancel := context.WithTimeout(ctx, kv.opts.ConnectTimeout+kv.opts.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, config)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(cctx, "LISTEN "+Channel); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// watch delivers conn's notifications to fn, and connects again when
// conn is lost, until ctx is done.
func (kv *KV) watch(ctx context.Context, conn *pgx.Conn, fn func(prefix []byte)) {
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	delay := watchRetryMin
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			c, err := kv.listen(ctx)
			if err != nil {
				delay = min(2*delay, watchRetryMax)
				continue
			}
			conn, delay = c, watchRetryMin
			kv.opts.Logger.Info("postgres state: the watch of changes is connected again; anything may have changed", "server", kv.addr)
			fn(nil) // commits may have gone unseen while it was lost
		}
		wctx, cancel := context.WithTimeout(ctx, watchPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			kv.deliver(n.Payload, fn)
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, kv.opts.Timeout)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
		}
		kv.opts.Logger.Warn("postgres state: the watch of changes lost its connection; connecting again", "server", kv.addr, "error", kv.fail("watch", err))
		_ = conn.Close(context.Background())
		conn = nil
	}
}

// deliver calls fn for a notification's prefixes, unless this KV sent it.
func (kv *KV) deliver(payload string, fn func(prefix []byte)) {
	id, list, ok := strings.Cut(payload, " ")
	if ok && id == kv.id {
		return
	}
	if !ok || list == "*" {
		fn(nil)
		return
	}
	var prefixes [][]byte
	for _, h := range strings.Split(list, ",") {
		p, err := hex.DecodeString(h)
		if err != nil || len(p) == 0 {
			fn(nil) // not a payload of this version: say anything changed
			return
		}
		prefixes = append(prefixes, p)
	}
	for _, p := range prefixes {
		fn(p)
	}
}
