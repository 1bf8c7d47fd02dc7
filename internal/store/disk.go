package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrFull is matched (errors.Is) by the errors of a store whose disk is
// full. Their messages name no file.
var ErrFull = errors.New("storage full")

// Defaults of DiskOptions.
const (
	// DefaultMinFree is the free space below which writes are refused: room
	// for a flush and the WAL of the appends already on their way.
	DefaultMinFree = 16 << 20
	// DefaultRetry is the first wait before a write that failed for want of
	// space is tried again; the wait doubles up to a second.
	DefaultRetry = 50 * time.Millisecond
	// DefaultOpenRetries bounds the retries of a write while the store opens.
	DefaultOpenRetries = 5
)

// DiskOptions configure NewDisk. Every field has a usable zero value.
type DiskOptions struct {
	// MinFree is the free space (bytes) below which Full reports the disk
	// full. Default: DefaultMinFree.
	MinFree uint64
	// Retry is the first wait before retrying a write. Default: DefaultRetry.
	Retry time.Duration
	// OpenRetries bounds the retries of one write until Running is called.
	// Default: DefaultOpenRetries.
	OpenRetries int
	// Logger gets one line when the disk fills and one when space is back.
	// Default: discard.
	Logger *slog.Logger
}

// Disk is the file system of one store, watched for a full disk. Pass it
// as Options.FS. A write that fails with ENOSPC is retried: while the store
// opens a few times (then the error is returned, see CheckOpen); once
// Running, until space is back or Release is called, so Pebble never sees
// the error (its WAL would stay broken until a restart) and a write in
// flight completes when space returns. Meanwhile Full reports the disk full,
// so that callers refuse new writes instead of queueing behind it.
//
// Syncs are not retried: after a failed fsync the data is not known to be
// on disk (see Pebble's vfs.OnDiskFull).
type Disk struct {
	vfs.FS
	dir  string
	opts DiskOptions

	running atomic.Bool
	waiting atomic.Int32 // writes waiting for space
	// roomyAt is when Full last found far more than MinFree free (unix
	// nanoseconds; 0: not then): Full trusts that for roomyFor.
	roomyAt  atomic.Int64
	released chan struct{} // closed by Release
	once     sync.Once
}

// NewDisk watches fs (vfs.Default when nil) for the store in dir.
func NewDisk(fs vfs.FS, dir string, opts DiskOptions) *Disk {
	if fs == nil {
		fs = vfs.Default
	}
	if opts.MinFree == 0 {
		opts.MinFree = DefaultMinFree
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.OpenRetries <= 0 {
		opts.OpenRetries = DefaultOpenRetries
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Disk{FS: fs, dir: dir, opts: opts, released: make(chan struct{})}
}

// Running ends the opening: from now on a write waits for space as long as
// it takes (or until Release).
func (d *Disk) Running() { d.running.Store(true) }

// Release makes waiting writes give up with their error. Call it before
// closing what writes through the Disk: Close would wait for them.
func (d *Disk) Release() { d.once.Do(func() { close(d.released) }) }

// CheckOpen refuses to open a store without the room to: MinFree plus the
// WALs Pebble replays and flushes at open. It returns nil when the free
// space cannot be told (an in-memory FS).
func (d *Disk) CheckOpen() error {
	avail, ok := d.avail()
	if !ok {
		return nil
	}
	need := d.opts.MinFree + d.walBytes()
	if avail >= need {
		return nil
	}
	why := bytesString(d.opts.MinFree) + " kept free"
	if wal := need - d.opts.MinFree; wal > 0 {
		why = fmt.Sprintf("%s to flush its write-ahead log and %s", bytesString(wal), why)
	}
	return &fullError{fmt.Sprintf("storage full: the disk of the data dir has %s free; strmlocal needs %s to start (%s); free some space and start again",
		bytesString(avail), bytesString(need), why)}
}

// Full returns an error matching ErrFull while a write waits for space or
// the free space is below MinFree, else nil. It costs one statfs.
func (d *Disk) Full() error {
	if d.waiting.Load() > 0 {
		return &fullError{"storage full: a write is waiting for space on the disk of the data dir; free some space and writes resume by themselves"}
	}
	if at := d.roomyAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < roomyFor {
		return nil
	}
	avail, ok := d.avail()
	if ok && avail >= d.opts.MinFree+roomyMargin {
		d.roomyAt.Store(time.Now().UnixNano())
	} else {
		d.roomyAt.Store(0)
	}
	if ok && avail < d.opts.MinFree {
		return &fullError{fmt.Sprintf("storage full: the disk of the data dir has %s free, below the %s strmlocal keeps free; free some space and writes resume by themselves",
			bytesString(avail), bytesString(d.opts.MinFree))}
	}
	return nil
}

// Full is asked on every ingest (a statfs each time on the hot path of
// POST /event): with more than roomyMargin above MinFree free, the answer
// stands for roomyFor. A disk that fills faster than that meets the
// write-waits-for-space path instead, which is safe, only less early.
const (
	roomyMargin = 256 << 20
	roomyFor    = 100 * time.Millisecond
)

// FullError returns err as an ErrFull error without its file names when it
// is ENOSPC, else err.
func FullError(err error) error {
	if err == nil || !isENOSPC(err) || errors.Is(err, ErrFull) {
		return err
	}
	return &fullError{"storage full: a write failed for want of space on the disk of the data dir; free some space and restart the server"}
}

type fullError struct{ msg string }

func (e *fullError) Error() string { return e.msg }
func (e *fullError) Unwrap() error { return ErrFull }

// avail is the free space of the file system of dir, or of its nearest
// parent that exists yet.
func (d *Disk) avail() (uint64, bool) {
	for dir := d.dir; ; {
		u, err := d.FS.GetDiskUsage(dir)
		if err == nil {
			return u.AvailBytes, true
		}
		parent := d.FS.PathDir(dir)
		if !errors.Is(err, os.ErrNotExist) || parent == dir {
			return 0, false
		}
		dir = parent
	}
}

// walBytes is what the data dir's WAL files hold, without the zeros they
// are written ahead with (zeroAhead): what replaying them can put in the
// memtable, and so what flushing it can take.
func (d *Disk) walBytes() uint64 {
	names, err := d.FS.List(d.dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, name := range names {
		if strings.HasSuffix(name, ".log") {
			n += uint64(walData(d.FS, d.FS.PathJoin(d.dir, name)))
		}
	}
	return n
}

// walData is the length of the WAL at path without its zeroed tail, read
// backwards from its end; 0 if it cannot be read.
func walData(fs vfs.FS, path string) int64 {
	f, err := fs.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0
	}
	buf := make([]byte, len(zeros))
	end := info.Size()
	for end > 0 {
		b := buf[:min(end, int64(len(buf)))]
		if _, err := f.ReadAt(b, end-int64(len(b))); err != nil {
			return info.Size()
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != 0 {
				return end - int64(len(b)) + int64(i) + 1
			}
		}
		end -= int64(len(b))
	}
	return 0
}

func isENOSPC(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// retry runs op until it does not fail with ENOSPC, within the bounds
// described at Disk.
func (d *Disk) retry(op func() error) error {
	err := op()
	if !isENOSPC(err) {
		return err
	}
	if d.waiting.Add(1) == 1 {
		d.opts.Logger.Warn("storage full: writes wait for space; free some space on the disk of the data dir")
	}
	defer func() {
		if d.waiting.Add(-1) == 0 && err == nil {
			d.opts.Logger.Info("storage space is back: writes resume")
		}
	}()
	wait := d.opts.Retry
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		if !d.running.Load() && attempt > d.opts.OpenRetries {
			return err
		}
		select {
		case <-d.released:
			return err
		case <-timer.C:
		}
		if err = op(); !isENOSPC(err) {
			return err
		}
		wait = min(2*wait, time.Second)
		timer.Reset(wait)
	}
}

func (d *Disk) Create(name string, category vfs.DiskWriteCategory) (f vfs.File, err error) {
	err = d.retry(func() error { f, err = d.FS.Create(name, category); return err })
	return d.wrap(f, err)
}

func (d *Disk) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (f vfs.File, err error) {
	err = d.retry(func() error { f, err = d.FS.OpenReadWrite(name, category, opts...); return err })
	return d.wrap(f, err)
}

func (d *Disk) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (f vfs.File, err error) {
	err = d.retry(func() error { f, err = d.FS.ReuseForWrite(oldname, newname, category); return err })
	return d.wrap(f, err)
}

func (d *Disk) Link(oldname, newname string) error {
	return d.retry(func() error { return d.FS.Link(oldname, newname) })
}

func (d *Disk) Rename(oldname, newname string) error {
	return d.retry(func() error { return d.FS.Rename(oldname, newname) })
}

func (d *Disk) MkdirAll(dir string, perm os.FileMode) error {
	return d.retry(func() error { return d.FS.MkdirAll(dir, perm) })
}

func (d *Disk) Unwrap() vfs.FS { return d.FS }

func (d *Disk) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return &diskFile{File: f, d: d}, nil
}

type diskFile struct {
	vfs.File
	d *Disk
}

// Write writes what is left of p after a short write, once space is back.
func (f *diskFile) Write(p []byte) (int, error) {
	var n int
	err := f.d.retry(func() error {
		m, err := f.File.Write(p[n:])
		n += m
		return err
	})
	return n, err
}

func (f *diskFile) WriteAt(p []byte, off int64) (int, error) {
	var n int
	err := f.d.retry(func() error {
		m, err := f.File.WriteAt(p[n:], off+int64(n))
		n += m
		return err
	})
	return n, err
}

var _ io.WriterAt = (*diskFile)(nil)

// bytesString is n in binary units, e.g. "3.2 MiB".
func bytesString(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
