package app

import (
	"io/fs"
	"path/filepath"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
)

// Usage is what the App holds now (strmlocal status).
type Usage struct {
	SourceStreams, DerivedStreams int
	// Events is the number of events retained in every source stream.
	Events           uint64
	Jobs, JobsFailed int
	// DiskBytes is the size of the files in the data dir (0 in memory).
	DiskBytes uint64
	Now       time.Time
	Virtual   bool
}

// Usage counts what the App holds. It reads each stream's bounds and lists
// the data dir: cheap, but not for a hot path.
func (a *App) Usage() (Usage, error) {
	u := Usage{Now: a.opts.Clock.Now(), Virtual: a.Virtual()}
	for _, st := range a.streams.List() {
		if st.IsDerived() {
			u.DerivedStreams++
			continue
		}
		u.SourceStreams++
		first, end, err := a.log.Bounds(st.ID)
		if err != nil {
			return Usage{}, err
		}
		u.Events += end - first
	}
	for _, j := range a.jobs.Jobs() {
		u.Jobs++
		if _, st, err := a.jobs.Job(j.Name); err == nil && st.State == catalog.JobFailed {
			u.JobsFailed++
		}
	}
	if a.opts.DataDir != "" {
		err := filepath.WalkDir(a.opts.DataDir, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a file that went away while walking
			}
			if info, err := d.Info(); err == nil && !d.IsDir() {
				u.DiskBytes += uint64(info.Size())
			}
			return nil
		})
		if err != nil {
			return Usage{}, err
		}
	}
	return u, nil
}
