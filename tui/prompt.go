package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// prompt is the one-line input of the tail screen (jump to an offset or a
// time, filter), shown in the status line. It is small on purpose: bubbles'
// textinput needs a clipboard module this project does not carry.
//
// A screen opens it with openPromptMsg; while it is open it takes every
// key. Enter closes it with a promptDoneMsg, which Model hands to the
// screen that opened it; esc closes it with promptClosedMsg.
type prompt struct {
	c     *common
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

func newPrompt(c *common, msg openPromptMsg) *prompt {
	return &prompt{c: c, kind: msg.kind, label: msg.label, value: []rune(msg.value)}
}

func (p *prompt) view() string {
	return p.c.styles.title.Render(p.label+" › ") + string(p.value) + "█"
}

// update edits the value; enter applies it, esc drops it.
func (p *prompt) update(msg tea.KeyPressMsg) (tea.Cmd, tea.Msg) {
	k := p.c.keys
	switch {
	case key.Matches(msg, k.promptCancel):
		return nil, promptClosedMsg{}
	case key.Matches(msg, k.promptApply):
		return nil, promptDoneMsg{kind: p.kind, value: strings.TrimSpace(string(p.value))}
	case key.Matches(msg, k.promptBackspace):
		if n := len(p.value); n > 0 {
			p.value = p.value[:n-1]
		}
	case msg.String() == "ctrl+u":
		p.value = nil
	case msg.String() == "ctrl+c":
		return tea.Quit, nil
	case msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0:
		p.value = append(p.value, []rune(msg.Text)...)
	}
	return nil, nil
}
