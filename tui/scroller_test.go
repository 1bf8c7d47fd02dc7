package tui

import "testing"

func TestScroller(t *testing.T) {
	k := defaultKeyMap()
	for _, c := range []struct {
		name   string
		s      scroller
		keys   []string
		fitLen int // after the keys, as the next frame would
		cursor int
		offset int
	}{
		{"list down stops at the last line", scroller{len: 3, height: 10}, []string{"down", "down", "down", "j"}, 3, 2, 0},
		{"list up stops at the first line", scroller{len: 3, height: 10, cursor: 1}, []string{"up", "k", "up"}, 3, 0, 0},
		{"list page down moves a page, window follows", scroller{len: 50, height: 10}, []string{"pgdown"}, 50, 10, 1},
		{"list bottom and top", scroller{len: 50, height: 10}, []string{"G", "g"}, 50, 0, 0},
		{"list bottom shows the last page", scroller{len: 50, height: 10}, []string{"end"}, 50, 49, 40},
		{"empty list", scroller{height: 10}, []string{"down", "G"}, 0, 0, 0},
		{"pager down is kept inside the text by fit", scroller{pager: true, len: 12, height: 10}, []string{"down", "down", "down"}, 12, 0, 2},
		{"pager page keeps a line", scroller{pager: true, len: 100, height: 10}, []string{"pgdown", "pgdown"}, 100, 0, 18},
		{"pager page up stops at 0", scroller{pager: true, len: 100, height: 10, offset: 5}, []string{"pgup"}, 100, 0, 0},
		{"pager bottom", scroller{pager: true, len: 100, height: 10}, []string{"G"}, 100, 0, 90},
		{"pager shorter than the screen", scroller{pager: true, len: 4, height: 10}, []string{"pgdown"}, 4, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			for _, key := range c.keys {
				if !s.update(keyMsg(key), k) {
					t.Fatalf("%s is not a scrolling key", key)
				}
			}
			s.fit(c.fitLen, s.height)
			if s.cursor != c.cursor || s.offset != c.offset {
				t.Fatalf("cursor %d offset %d, want %d %d", s.cursor, s.offset, c.cursor, c.offset)
			}
		})
	}
	s := scroller{len: 3, height: 10}
	if s.update(keyMsg("enter"), k) {
		t.Fatal("enter taken for a scrolling key")
	}
	if !s.click(2) || s.cursor != 2 || s.click(3) || s.click(-1) {
		t.Fatalf("click: cursor %d", s.cursor)
	}
}
