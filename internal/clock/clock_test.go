package clock

import (
	"errors"
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	v := NewVirtual(start)
	if got := v.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Fatalf("Now = %v", got)
	}
	got, err := v.Advance(25 * time.Hour)
	if want := start.Add(25 * time.Hour); err != nil || !got.Equal(want) || !v.Now().Equal(want) {
		t.Fatalf("Advance = %v, %v", got, err)
	}
	if _, err := v.Advance(-time.Second); !errors.Is(err, ErrBackwards) {
		t.Fatalf("Advance(-1s) = %v", err)
	}
	var c Clock = Func(func() time.Time { return start })
	if !c.Now().Equal(start) {
		t.Fatal("Func")
	}
}
