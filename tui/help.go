package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// screenKeys are the bindings of the open screen, for the help line and
// the overlay.
func (m *Model) screenBindings() []key.Binding {
	k := m.c.keys
	switch m.screen {
	case screenStreams:
		return []key.Binding{k.up, k.down, k.enter, k.side, k.keys, k.retry}
	case screenTail:
		return []key.Binding{k.up, k.down, k.follow, k.bottom, k.top, k.jumpOffset, k.jumpTime, k.filter, k.enter, k.side, k.keys, k.retry}
	case screenDetail:
		return []key.Binding{k.up, k.down, k.side, k.keys}
	case screenSide:
		return []key.Binding{k.next, k.prev, k.nextStream, k.prevStream, k.up, k.down, k.enter, k.keys}
	case screenKeys:
		return []key.Binding{k.up, k.down, k.retry}
	}
	return nil
}

func (m *Model) globalBindings() []key.Binding {
	k := m.c.keys
	return []key.Binding{k.help, k.back, k.mouse, k.quit}
}

// shortHelp is the bottom line: the screen's main keys, help and quit.
func (m *Model) shortHelp() []key.Binding {
	k := m.c.keys
	var b []key.Binding
	switch m.screen {
	case screenStreams:
		enter := k.enter
		enter.SetHelp("enter", "tail")
		b = []key.Binding{enter, k.side, k.keys}
	case screenTail:
		enter := k.enter
		enter.SetHelp("enter", "detail")
		b = []key.Binding{k.follow, k.jumpOffset, k.filter, enter, k.side}
	case screenDetail:
		b = []key.Binding{k.side, k.keys}
	case screenSide:
		b = []key.Binding{k.next, k.prev, k.nextStream}
	case screenKeys:
		b = []key.Binding{k.up, k.down}
	}
	if m.screen != screenStreams {
		b = append(b, k.back)
	}
	return append(b, k.help, k.quit)
}

// helpBody is the overlay: the open screen's keys and the global ones, in
// a box in the middle of the body.
func (m *Model) helpBody(w, h int) []string {
	hm := help.New()
	hm.SetWidth(w - 6)
	hm.Styles.FullKey = lipgloss.NewStyle().Bold(true)
	hm.Styles.FullDesc = lipgloss.NewStyle()
	groups := [][]key.Binding{m.screenBindings(), m.globalBindings()}
	content := lipgloss.NewStyle().Bold(true).Render("keys · "+m.title()) + "\n\n" + hm.FullHelpView(groups) +
		"\n\n" + lipgloss.NewStyle().Faint(true).Render(legend)
	box := m.c.styles.box.MaxWidth(w).Render(content)
	placed := lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
	return splitLines(placed)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
