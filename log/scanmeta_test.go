package log

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestScanMeta(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		for i := range 6 {
			mustAppend(t, l, 1, recAt(fmt.Sprintf("r%d", i), t0.Add(time.Duration(i)*time.Minute)))
		}
		mustAppend(t, l, 2, rec("other"))
		// Records r0 and r1 are removed by retention.
		if n, err := l.Trim(1, Retention{MaxAge: 3 * time.Minute}, t0.Add(4*time.Minute+30*time.Second)); n != 2 || err != nil {
			t.Fatalf("Trim = %d, %v", n, err)
		}
		for _, tc := range []struct {
			from, to uint64
			want     string
			next     uint64
		}{
			{0, 10, "2:m:r2 3:m:r3 4:m:r4 5:m:r5", 6},
			{3, 5, "3:m:r3 4:m:r4", 5},
			{0, 2, "", 2},
			{0, 3, "2:m:r2", 3},
			{5, 5, "", 5},
			{6, 9, "", 6},
			{8, 9, "", 6},
		} {
			var got []string
			next, err := l.ScanMeta(1, tc.from, tc.to, func(off uint64, meta []byte) error {
				got = append(got, fmt.Sprintf("%d:%s", off, meta))
				return nil
			})
			if s := strings.Join(got, " "); s != tc.want || next != tc.next || err != nil {
				t.Errorf("ScanMeta(1, %d, %d) = %q, %d, %v; want %q, %d", tc.from, tc.to, s, next, err, tc.want, tc.next)
			}
		}
		stop := errors.New("stop")
		n := 0
		if _, err := l.ScanMeta(1, 0, 10, func(uint64, []byte) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("ScanMeta stopping = %d calls, %v; want 1, stop", n, err)
		}
		if err := l.Drop(2, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ScanMeta(2, 0, 1, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrDropped) {
			t.Errorf("ScanMeta of a dropped stream: %v, want ErrDropped", err)
		}
	})
}
