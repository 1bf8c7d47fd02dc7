package store

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// repairsFile, in the data dir, holds one line per repair: what it dropped.
// Open logs every line as a warning, so a repaired data dir always says what
// it lost.
const repairsFile = "REPAIRS"

// reportRepairs logs the data dir's repair records.
func reportRepairs(fs vfs.FS, dir string, l *slog.Logger) error {
	f, err := fs.Open(fs.PathJoin(dir, repairsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			l.Warn("this data dir was repaired: " + line)
		}
	}
	return sc.Err()
}
