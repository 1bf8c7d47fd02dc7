package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// scroller is the position in something taller than the screen: a window
// of height lines, from offset, over len lines. Every screen that scrolls
// has one, so up, down, page up, page down, top and bottom mean the same
// everywhere.
//
// A list (the stream tree, the tail, the key links) has a selected line,
// cursor, that the keys move and the window follows. A pager (an event,
// the side by side panes) has none: the keys move the window.
//
// Lists know their length when a key arrives; pagers learn it only when
// their body is rendered, so fit, called by the view, is what keeps a
// pager's offset inside its text.
type scroller struct {
	cursor int // the selected line; lists only
	offset int // the first line on screen
	height int // lines on screen
	len    int // lines in all
	pager  bool
}

// update applies a scrolling key and reports whether msg was one.
func (s *scroller) update(msg tea.KeyPressMsg, k keyMap) bool {
	switch {
	case key.Matches(msg, k.up):
		s.move(-1)
	case key.Matches(msg, k.down):
		s.move(1)
	case key.Matches(msg, k.pageUp):
		s.move(-s.page())
	case key.Matches(msg, k.pageDown):
		s.move(s.page())
	case key.Matches(msg, k.top):
		s.top()
	case key.Matches(msg, k.bottom):
		s.bottom()
	default:
		return false
	}
	return true
}

// page is how far page up and page down move. A pager keeps the last line
// of the page it leaves in view, so the reader does not lose their place.
func (s *scroller) page() int {
	if s.pager {
		return max(1, s.height-1)
	}
	return max(1, s.height)
}

// move moves the cursor (a list) or the window (a pager) by delta lines.
// A pager's window is kept inside its text by the next fit.
func (s *scroller) move(delta int) {
	if s.pager {
		s.offset = max(0, s.offset+delta)
		return
	}
	s.cursor = max(0, min(s.len-1, s.cursor+delta))
}

func (s *scroller) top() {
	if s.pager {
		s.offset = 0
		return
	}
	s.cursor = 0
}

func (s *scroller) bottom() {
	if s.pager {
		s.offset = max(0, s.len-s.height)
		return
	}
	s.cursor = max(0, s.len-1)
}

// fit takes the current length and height: a list's window moves as
// little as it must to show the cursor, a pager's stays inside the text.
func (s *scroller) fit(n, height int) {
	s.len, s.height = n, height
	if s.pager {
		s.offset = max(0, min(s.offset, n-height))
		return
	}
	s.offset = clampTop(s.offset, s.cursor, height, n)
}

// click selects the line at row of the window and reports whether there
// is one.
func (s *scroller) click(row int) bool {
	if row < 0 || s.offset+row >= s.len {
		return false
	}
	s.cursor = s.offset + row
	return true
}

// clampTop returns the first row to show so that sel is visible in h rows
// of n, moving as little as possible from top.
func clampTop(top, sel, h, n int) int {
	if h <= 0 {
		return 0
	}
	if sel < top {
		top = sel
	}
	if sel >= top+h {
		top = sel - h + 1
	}
	return max(0, min(top, n-h))
}

// pagerView fits a pager to lines in h rows and returns the rows on screen.
// When lines are taller than h, the last row is a hint of what is out of
// view: "↓ 12 more lines · j/k scroll", or once at the end "↑ 12 lines
// above · j/k scroll".
func (s *scroller) pagerView(lines []string, h int, st styles) []string {
	if len(lines) <= h || h < 2 {
		s.fit(len(lines), h)
		return lines[s.offset:]
	}
	s.fit(len(lines), h-1)
	shown := lines[s.offset : s.offset+h-1]
	var hint string
	if below := len(lines) - s.offset - (h - 1); below > 0 {
		hint = fmt.Sprintf("↓ %d more %s · j/k scroll", below, plural(below, "line", "lines"))
	} else {
		hint = fmt.Sprintf("↑ %d %s above · j/k scroll", s.offset, plural(s.offset, "line", "lines"))
	}
	return append(shown[:len(shown):len(shown)], st.dim.Render(hint))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
