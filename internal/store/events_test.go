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
