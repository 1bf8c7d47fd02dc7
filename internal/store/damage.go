package store

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCorrupt is returned when a file of the data dir is damaged: the
// message names the file and, where it can, the offset, and says whether
// `strmlocal repair` can help (docs/storage.md).
var ErrCorrupt = errors.New("store: data dir is corrupt")

// WALDamage is where the write-ahead log of a data dir stops being
// readable, and what a repair would drop. Pebble itself would replay the
// log up to Offset and carry on without a word: every write after it would
// be gone, acknowledged or not.
type WALDamage struct {
	// File is the damaged WAL (a base name in the data dir) and Size its
	// length in bytes.
	File string
	Size int64
	// Offset is where its valid records stop; the chunk at BadAt (at or
	// after Offset) is the first one that fails, for Reason.
	Offset, BadAt int64
	Reason        string
	// Later are the WAL files after File, which a repair drops whole: their
	// writes follow the lost ones and cannot be kept without a gap.
	Later []string
	// Lost are the batches found intact after the damage, in order: what a
	// repair drops, besides what the damaged bytes themselves held.
	Lost []WALBatch
	// Damaged is the batch at Offset, read despite its failed checksum, when
	// its chunk was whole; its contents are not to be trusted.
	Damaged *WALBatch

	dir string
}

// WALBatch is one atomic write found in a WAL.
type WALBatch struct {
	File   string
	Offset int64
	Writes []Write
}

// Write is one operation of a WALBatch: a set, a delete, or (Kind
// pebble.InternalKeyKindRangeDelete) the deletion of [Key, Value).
type Write struct {
	Kind       pebble.InternalKeyKind
	Key, Value []byte
}

// Error is the one-line refusal: the file, the offset, what follows, what
// to do.
func (d *WALDamage) Error() string {
	what := fmt.Sprintf("%d intact batches follow it", len(d.Lost))
	if len(d.Lost) == 0 {
		what = "its last record is damaged"
	}
	later := ""
	if len(d.Later) > 0 {
		later = fmt.Sprintf(" and %d later WAL files", len(d.Later))
	}
	return fmt.Sprintf("%v: write-ahead log %s is damaged at offset %d (%s; valid records end at offset %d of %d bytes, %s); "+
		"starting would silently drop everything after it%s: run `strmlocal repair --data-dir %s` to see exactly what is lost and drop it, or restore the data dir from a copy",
		ErrCorrupt, d.File, d.BadAt, d.Reason, d.Offset, d.Size, what, later, d.dir)
}

func (d *WALDamage) Unwrap() error { return ErrCorrupt }

// walFile is one WAL file of the data dir.
type walFile struct {
	name string
	num  uint64
}

// listWALs returns the data dir's WAL files in log order.
func listWALs(fs vfs.FS, dir string) ([]walFile, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var wals []walFile
	for _, n := range names {
		num, ok := strings.CutSuffix(n, ".log")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(num, 10, 64)
		if err != nil || v == 0 || v > 1<<32-2 {
			continue
		}
		wals = append(wals, walFile{name: n, num: v})
	}
	slices.SortFunc(wals, func(a, b walFile) int { return int(a.num) - int(b.num) })
	return wals, nil
}

// scanFile scans one record file of the data dir; logNum is 0 for a
// MANIFEST. fn may be nil.
func scanFile(fs vfs.FS, path string, logNum uint32, fn func(off int64, rec []byte) error) (*recScan, int64, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fn == nil {
		fn = func(int64, []byte) error { return nil }
	}
	s, err := scanRecords(f, logNum, fn)
	if err != nil {
		return nil, 0, fmt.Errorf("store: read %s: %w", path, err)
	}
	return s, info.Size(), nil
}

// findWALDamage scans the WAL files of dir and returns the damage in the
// first live one (nil if none is damaged). A damaged WAL that Pebble no
// longer replays (an obsolete one, kept for recycling) is no loss and is
// ignored; which WALs are live is asked of Pebble itself, by a read-only
// open that notes the files it reads (only when damage was found).
func findWALDamage(fs vfs.FS, dir string, popts *pebble.Options) (*WALDamage, error) {
	wals, err := listWALs(fs, dir)
	if err != nil {
		return nil, err
	}
	first := -1
	for i, w := range wals {
		s, size, err := scanFile(fs, fs.PathJoin(dir, w.name), uint32(w.num), nil)
		if err != nil {
			return nil, err
		}
		if s.isDamage() {
			first = i
			_ = size
			break
		}
	}
	if first < 0 {
		return nil, nil
	}
	live, err := liveWALs(fs, dir, popts)
	if err != nil {
		return nil, err
	}
	for i := first; i < len(wals); i++ {
		w := wals[i]
		if live > w.num {
			continue
		}
		var lost []WALBatch
		s, size, err := scanFile(fs, fs.PathJoin(dir, w.name), uint32(w.num), nil)
		if err != nil {
			return nil, err
		}
		if !s.isDamage() {
			continue
		}
		d := &WALDamage{File: w.name, Size: size, Offset: s.valid, BadAt: s.bad, Reason: s.reason}
		for _, r := range s.after {
			lost = append(lost, decodeBatch(w.name, r.off, r.rec))
		}
		if s.damaged != nil {
			b := decodeBatch(w.name, s.valid, s.damaged)
			d.Damaged = &b
		}
		for _, later := range wals[i+1:] {
			d.Later = append(d.Later, later.name)
			_, _, err := scanFile(fs, fs.PathJoin(dir, later.name), uint32(later.num), func(off int64, rec []byte) error {
				lost = append(lost, decodeBatch(later.name, off, rec))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		d.Lost = lost
		return d, nil
	}
	return nil, nil
}

// decodeBatch decodes a WAL record into its writes, as far as it decodes.
func decodeBatch(file string, off int64, rec []byte) WALBatch {
	b := WALBatch{File: file, Offset: off}
	r := batchrepr.Read(rec)
	for {
		kind, k, v, ok, err := r.Next()
		if !ok || err != nil {
			return b
		}
		switch kind {
		case pebble.InternalKeyKindLogData:
			continue
		}
		b.Writes = append(b.Writes, Write{Kind: kind, Key: slices.Clone(k), Value: slices.Clone(v)})
	}
}

// liveWALs returns the number of the oldest WAL that Pebble replays:
// a read-only open of dir notes the WAL files it opens. A read-only open
// writes nothing. If it fails (a damaged older WAL makes Pebble refuse), the
// files it opened until then still tell.
func liveWALs(fs vfs.FS, dir string, popts *pebble.Options) (uint64, error) {
	view := &viewFS{FS: fs, onOpen: map[string]bool{}}
	o := popts.Clone()
	o.FS, o.ReadOnly = view, true
	h := newHealth(nil)
	o.Logger, o.EventListener = h, h.listener()
	db, err := pebble.Open(dir, o)
	if err == nil {
		err = db.Close()
	}
	oldest := uint64(1<<64 - 1)
	for name := range view.onOpen {
		if num, ok := strings.CutSuffix(name, ".log"); ok {
			if v, perr := strconv.ParseUint(num, 10, 64); perr == nil && v < oldest {
				oldest = v
			}
		}
	}
	if oldest == 1<<64-1 && err != nil {
		return 0, err
	}
	return oldest, nil
}

// viewFS shows Pebble a data dir as a repair would leave it: some files
// cut short, some hidden. It notes the files opened.
type viewFS struct {
	vfs.FS
	cut    map[string]int64 // base name → size to show
	hidden map[string]bool  // base names not listed
	onOpen map[string]bool  // base names opened (if non-nil)
}

func (v *viewFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	base := v.PathBase(name)
	if v.hidden[base] {
		return nil, &iofs.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	if v.onOpen != nil {
		v.onOpen[base] = true
	}
	f, err := v.FS.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	if size, ok := v.cut[base]; ok {
		return &cutFile{File: f, size: size}, nil
	}
	return f, nil
}

func (v *viewFS) List(dir string) ([]string, error) {
	names, err := v.FS.List(dir)
	return slices.DeleteFunc(names, func(n string) bool { return v.hidden[n] }), err
}

func (v *viewFS) Stat(name string) (vfs.FileInfo, error) {
	base := v.PathBase(name)
	if v.hidden[base] {
		return nil, &iofs.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	info, err := v.FS.Stat(name)
	if size, ok := v.cut[base]; ok && err == nil {
		return cutInfo{info, size}, nil
	}
	return info, err
}

// cutFile is a file read only up to size.
type cutFile struct {
	vfs.File
	size, pos int64
}

func (f *cutFile) Read(p []byte) (int, error) {
	if f.pos >= f.size {
		return 0, io.EOF
	}
	if int64(len(p)) > f.size-f.pos {
		p = p[:f.size-f.pos]
	}
	n, err := f.File.Read(p)
	f.pos += int64(n)
	return n, err
}

func (f *cutFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	short := int64(len(p)) > f.size-off
	if short {
		p = p[:f.size-off]
	}
	n, err := f.File.ReadAt(p, off)
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

func (f *cutFile) Stat() (vfs.FileInfo, error) {
	info, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return cutInfo{info, f.size}, nil
}

type cutInfo struct {
	vfs.FileInfo
	size int64
}

func (i cutInfo) Size() int64 { return i.size }

// checkRecordFiles refuses a data dir whose MANIFEST or WAL is damaged
// (see recScan.isDamage), before Pebble reads them.
func checkRecordFiles(fs vfs.FS, dir string, popts *pebble.Options) error {
	desc, err := pebble.Peek(dir, fs)
	if err != nil {
		return fmt.Errorf("store: read data dir %s: %w", dir, err)
	}
	if desc.Exists && desc.ManifestFilename != "" {
		s, size, err := scanFile(fs, desc.ManifestFilename, 0, nil)
		if err != nil {
			return err
		}
		if s.isDamage() {
			return fmt.Errorf("%w: %s is damaged at offset %d (%s; valid records end at offset %d of %d bytes); "+
				"it lists the data files, and read only up to there it would lose some and have them deleted. "+
				"`strmlocal repair` cannot rebuild it: restore the data dir from a copy, or move it away to start afresh",
				ErrCorrupt, desc.ManifestFilename, s.bad, s.reason, s.valid, size)
		}
	}
	d, err := findWALDamage(fs, dir, popts)
	if err != nil {
		return err
	}
	if d != nil {
		d.File, d.dir = fs.PathJoin(dir, d.File), dir
		return d
	}
	return nil
}

// openError words an error of pebble.Open. Corruption is not
// incompatibility: it says so, names what Pebble names, and says what to do.
func openError(dir string, err error) error {
	// Pebble marks most corruption; a MANIFEST it cannot decode it words
	// as "malformed".
	if msg := oneLine(err); pebble.IsCorruptionError(err) || strings.Contains(msg, "malformed") || strings.Contains(msg, "corrupt") {
		return fmt.Errorf("%w: %s cannot be opened (%s); `strmlocal repair` cannot mend this: restore the data dir from a copy, or move it away to start afresh",
			ErrCorrupt, dir, oneLine(err))
	}
	return fmt.Errorf("%w: %s cannot be opened (%s); use a different --data-dir, or move this one away", ErrIncompatible, dir, oneLine(err))
}
