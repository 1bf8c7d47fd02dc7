package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// helpModel is the overlay of key bindings over the open screen. It is
// not a screen of its own: esc is not needed to leave it, any key does,
// and the screen under it stays as it was.
type helpModel struct {
	c    *common
	open bool
}

// update takes every key while the overlay is open: ctrl+c still quits,
// anything else closes it.
func (h *helpModel) update(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, h.c.keys.quit) && msg.String() == "ctrl+c" {
		return tea.Quit
	}
	h.open = false
	return nil
}

// view is the overlay: the open screen's keys and the global ones, in a
// box in the middle of the body.
func (h *helpModel) view(w, height int, title string, screenKeys []key.Binding) []string {
	k := h.c.keys
	hm := help.New()
	hm.SetWidth(w - 6)
	hm.Styles.FullKey = lipgloss.NewStyle().Bold(true)
	hm.Styles.FullDesc = lipgloss.NewStyle()
	groups := [][]key.Binding{screenKeys, {k.help, k.back, k.mouse, k.quit}}
	content := lipgloss.NewStyle().Bold(true).Render("keys · "+title) + "\n\n" + hm.FullHelpView(groups) +
		"\n\n" + lipgloss.NewStyle().Faint(true).Render(legend)
	box := h.c.styles.box.MaxWidth(w).Render(content)
	placed := lipgloss.Place(w, height, lipgloss.Center, lipgloss.Center, box)
	return splitLines(placed)
}

func (h *helpModel) status() string { return h.c.styles.dim.Render("any key closes help") }
