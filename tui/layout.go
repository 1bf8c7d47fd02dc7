package tui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// Small text helpers the screens share.

// pad pads (or cuts) s to width w.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// lpad right-aligns s in width w, keeping one space before it.
func lpad(s string, w int) string {
	s = ansi.Truncate(s, w-1, "")
	return strings.Repeat(" ", w-ansi.StringWidth(s)) + s
}

// wrap breaks s into lines of at most w columns at spaces.
func wrap(s string, w int) []string {
	if w < 10 {
		w = 10
	}
	var lines []string
	var cur string
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= w:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
		for ansi.StringWidth(cur) > w {
			lines = append(lines, ansi.Truncate(cur, w, ""))
			cur = ansi.TruncateLeft(cur, w, "")
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
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

// thousands writes n with comma separators.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// consentText describes a stream's consent rules: "source",
// "cumulative ≥2", "granular 0,1".
func consentText(st *v1.Stream) string {
	if st.DerivedFrom == "" {
		return "source"
	}
	levels := levelsText(st.Levels, ",")
	if st.ConsentType == v1.ConsentType_CONSENT_TYPE_GRANULAR {
		return "granular " + levels
	}
	return "cumulative ≥" + levels
}

func levelsText(levels []int32, sep string) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = strconv.Itoa(int(l))
	}
	return strings.Join(parts, sep)
}

// consentList is a record's consent levels as "[0,1]", the way the CLI and
// the events' JSON write them.
func consentList(levels []int32) string { return "[" + levelsText(levels, ",") + "]" }

// shortKey is the first 8 characters of a key link and an ellipsis.
func shortKey(k string) string {
	if len(k) <= 8 {
		return k
	}
	return k[:8] + "…"
}

// cutCipher shortens a ciphertext to its first 10 characters.
func cutCipher(s string) string {
	if len(s) <= 11 {
		return s
	}
	return s[:10] + "…"
}

// cutMiddle shortens s to w columns, keeping its end (a closing quote and
// comma, a base64 padding) readable.
func cutMiddle(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	if w < 6 {
		return string(r[:w-1]) + "…"
	}
	tail := 3
	return string(r[:w-1-tail]) + "…" + string(r[len(r)-tail:])
}

func styleValue(st styles, k fieldKind, s string) string {
	switch k {
	case cipherField:
		return st.cipher.Render(s)
	case decryptedField:
		return st.decrypted.Render(s)
	case maskedField:
		return st.masked.Render(s)
	}
	return s
}
