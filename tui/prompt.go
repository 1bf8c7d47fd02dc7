package tui

import (
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// prompt is the one-line input of the tail screen (jump to an offset or a
// time, filter). It is small on purpose: bubbles' textinput needs a
// clipboard module this project does not carry.
type prompt struct {
	kind  promptKind
	label string
	value []rune
}

type promptKind int

const (
	promptOffset promptKind = iota
	promptTime
	promptFilter
)

func newPrompt(k promptKind, label string) *prompt { return &prompt{kind: k, label: label} }

func (p *prompt) view(st styles) string {
	return st.title.Render(p.label+" › ") + string(p.value) + "█"
}

// promptKey edits the prompt; enter applies it, esc drops it.
func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	p, k := m.prompt, m.c.keys
	switch {
	case key.Matches(msg, k.promptCancel):
		m.prompt = nil
	case key.Matches(msg, k.promptApply):
		m.prompt = nil
		return m.applyPrompt(p.kind, strings.TrimSpace(string(p.value)))
	case key.Matches(msg, k.promptBackspace):
		if n := len(p.value); n > 0 {
			p.value = p.value[:n-1]
		}
	case msg.String() == "ctrl+u":
		p.value = nil
	case msg.String() == "ctrl+c":
		return tea.Quit
	case msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0:
		p.value = append(p.value, []rune(msg.Text)...)
	}
	return nil
}

func (m *Model) applyPrompt(kind promptKind, v string) tea.Cmd {
	switch kind {
	case promptOffset:
		if v == "" {
			return nil
		}
		off, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			m.status = m.c.styles.errorText.Render("an offset is a whole number ≥ 0, e.g. 1200")
			return nil
		}
		return m.jumpOffset(off)
	case promptTime:
		if v == "" {
			return nil
		}
		at, err := parseJumpTime(v, m.jumpRef(), m.c.opts.Location)
		if err != nil {
			m.status = m.c.styles.errorText.Render(err.Error())
			return nil
		}
		return m.jumpTime(at)
	case promptFilter:
		if v == "" {
			m.tail.ring.setFilter(nil)
			m.tailKeepVisible()
			return nil
		}
		f, err := parseFilter(v)
		if err != nil {
			m.status = m.c.styles.errorText.Render(err.Error())
			return nil
		}
		m.tail.ring.setFilter(f)
		m.tailKeepVisible()
	}
	return nil
}
