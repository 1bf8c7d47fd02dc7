package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasExample walks the command tree: every command has an
// Example, each line indented by two spaces, a strmlocal command line of
// that command (or of one under it) or a "#" comment. Each command line
// must parse: its command exists, its flags do, its arguments and required
// flags are there.
func TestEveryCommandHasExample(t *testing.T) {
	getenv := func(string) string { return "" }
	n := 0
	walk(newRootCmd(&env{getenv: getenv}), func(cmd *cobra.Command, path []string) {
		n++
		name := strings.Join(append([]string{"strmlocal"}, path...), " ")
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%s has no Example", name)
			return
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
				t.Errorf("%s: example line %q: indent it by two spaces", name, line)
				continue
			}
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "# ") {
				continue
			}
			runs := commandLines(line)
			ofThis := false
			for _, words := range runs {
				err := parses(words)
				if err != nil {
					t.Errorf("%s: example %q: %v", name, line, err)
				}
				ofThis = ofThis || runsCommand(words, path)
			}
			if !ofThis {
				t.Errorf("%s: example %q runs no strmlocal %s", name, line, strings.Join(path, " "))
			}
		}
	})
	if n < 60 {
		t.Fatalf("walked %d commands", n)
	}
}

// runsCommand reports whether a strmlocal command line (the words after
// "strmlocal") runs the command at path or one under it.
func runsCommand(words, path []string) bool {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	cmd, _, err := root.Find(words)
	if err != nil {
		return false
	}
	got := strings.Fields(strings.TrimPrefix(cmd.CommandPath(), "strmlocal"))
	return len(got) >= len(path) && strings.Join(got[:len(path)], " ") == strings.Join(path, " ")
}

// parses checks a strmlocal command line (the words after "strmlocal")
// on a command tree of its own: its command exists, with the flags it
// gives and the arguments and flags it requires.
func parses(words []string) error {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	cmd, rest, err := root.Find(words)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}

// commandLines splits a shell line into words (quotes kept together, $VAR
// left as it is) and returns each run of strmlocal in it: the words after
// "strmlocal", up to the next pipe, redirection, parenthesis or ;/&.
func commandLines(line string) [][]string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	end := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ':
			end()
		case strings.ContainsRune("|<>();&", r):
			end()
			words = append(words, string(r))
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	end()
	var runs [][]string
	for i, w := range words {
		if w != "strmlocal" {
			continue
		}
		run := []string{}
		for _, w := range words[i+1:] {
			if len(w) == 1 && strings.Contains("|<>();&", w) {
				break
			}
			run = append(run, w)
		}
		runs = append(runs, run)
	}
	return runs
}
