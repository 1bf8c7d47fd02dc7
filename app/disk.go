package app

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
)

// ErrStorageFull is matched by the errors of writes refused because the
// disk of the data dir is full (or nearly: see store.DefaultMinFree). The
// messages name no file; writes resume by themselves once space is back.
var ErrStorageFull = store.ErrFull

// ErrStorageUnavailable is matched by the errors of operations that met the
// state (PostgreSQL) or the log (Kafka) of the scale-out mode unreachable:
// nothing was acknowledged; retry when it is back (docs/scale-out.md).
var ErrStorageUnavailable = store.ErrUnavailable

// OpenContext is Open that stops when ctx ends: between the stages of the
// opening, in a write waiting for space, and otherwise at once. Stopped at
// once, it returns ctx's error while the opening goes on in the background
// (Pebble's own Open cannot be interrupted), and what it opened is closed
// when it is done; the data dir stays locked until then.
func OpenContext(ctx context.Context, opts Options) (*App, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("app: open stopped: %w", err)
	}
	type opened struct {
		a   *App
		err error
	}
	c := make(chan opened, 1)
	go func() {
		a, err := open(ctx, opts)
		c <- opened{a, err}
	}()
	select {
	case o := <-c:
		return o.a, o.err
	case <-ctx.Done():
		go func() {
			if o := <-c; o.a != nil {
				_ = o.a.Close()
			}
		}()
		return nil, fmt.Errorf("app: open stopped: %w", ctx.Err())
	}
}

// openStore opens the store on a store.Disk, after checking that the disk
// has room for it. A write waiting for space during the opening gives up
// when ctx ends.
func openStore(ctx context.Context, opts Options) (*store.Store, *store.Disk, error) {
	fs, dir := vfs.Default, opts.DataDir
	if dir == "" {
		fs, dir = vfs.NewMem(), "strmlocal"
	}
	disk := store.NewDisk(fs, dir, store.DiskOptions{Logger: opts.Logger})
	if err := disk.CheckOpen(); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, disk.Release)
	defer stop()
	st, err := store.Open(store.Options{Dir: dir, FS: disk, Logger: opts.Logger})
	if err == nil {
		err = ctx.Err()
		if err != nil {
			_ = st.Close()
		}
	}
	if err != nil {
		return nil, nil, store.FullError(err)
	}
	return st, disk, nil
}

// ErrCorrupt is matched by Ready's answer once the store met a corrupt data
// file while running (a start refuses one it finds: docs/storage.md).
var ErrCorrupt = store.ErrCorrupt

// Ready returns nil while the application accepts writes, else why not:
// an error matching ErrStorageFull while the disk is full, or ErrCorrupt
// once a data file was found corrupt. Neither message names a file: the
// health endpoints answer anyone; the server log has the file.
func (a *App) Ready() error {
	if a.pg != nil {
		return a.reachable()
	}
	if err := a.store.Corruption(); err != nil {
		return fmt.Errorf("%w: a data file failed its checksum while running (the server log names it); reads that meet it fail: stop the server, then restore the data dir from a copy or move it away", ErrCorrupt)
	}
	return a.disk.Full()
}
