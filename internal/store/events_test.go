package store

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// Pebble's Fatalf must not return; it used to panic. It logs one line and
// ends the process with status 1 instead.
func TestFatalfLogsOneLineAndExitsWithoutPanic(t *testing.T) {
	var buf bytes.Buffer
	h := newHealth(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})))
	code := -1
	h.exit = func(c int) { code = c }
	h.Fatalf("MANIFEST sync failed: %v", errors.New("input/output error\n(stack)"))
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := `level=ERROR msg="storage failed; stopping: MANIFEST sync failed: input/output error" component=pebble` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatal("more than one line")
	}
}

// trimPebble keeps what a table error says after the prefixes that repeat
// the file's name, however many there are.
func TestTrimPebble(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"pebble: file 000006: block 1/2: crc32c checksum mismatch 1 != 2", "block 1/2: crc32c checksum mismatch 1 != 2"},
		{"pebble: backing file 000006 error: pebble: file 000006: block 1/2: bad\ndetail", "block 1/2: bad"},
		{"pebble: invalid table 000006 (file size is too small)", "pebble: invalid table 000006 (file size is too small)"},
		{"pebble: backing file 000006 went away", "pebble: backing file 000006 went away"},
		{"read: no such file", "read: no such file"},
	} {
		if got := trimPebble(errors.New(tc.in)); got != tc.want {
			t.Errorf("trimPebble(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
