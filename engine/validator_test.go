package engine

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestMatchOnlyEquivalent checks that the rewritten regexp, and the test
// matcher builds (the rewritten regexp, or a line check for ^.+$ and
// ^.*$), accept exactly the strings the pattern as written accepts.
func TestMatchOnlyEquivalent(t *testing.T) {
	patterns := []string{
		`^.+$`,
		`^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]`,
		`^MCH-[0-9]{5}$`,
		`a+b`, `a+?b`, `(?U)a+b`, `(a|ab)(c|bcd)(d*)`, `^(a*)*$`, `x{2,3}?y`, `(?i)AB+`,
		`(?s)a.b`, `(?m)^b$`, `\Aab*\z`, `\bab?\b`, `[^a]*a`, `^$`, `(?P<name>a+)b+`, `a{0}`, `(a?){3}c`,
		`^.*$`, `^.+?$`, `(?s)^.+$`, `(?m)^.+$`, `^.+`, `.+$`, `^(.+)$`, `^..+$`, `\A.+\z`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab cdxyMCH-0123456789:/.?h\ntpsfBA")
	var inputs []string
	for range 3000 {
		b := make([]byte, r.IntN(14))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs, "", "https://x", "https://", "ftp://a b", "MCH-00042", "aab", "ab\nb", "\n", "a\n", "\na", "\xff", "\xff\n", "é")
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		fast, match := matchOnly(re), matcher(re)
		for _, in := range inputs {
			want := re.MatchString(in)
			if fast.MatchString(in) != want {
				t.Errorf("pattern %q (rewritten %q) disagrees on %q", p, fast, in)
			}
			if match(in) != want {
				t.Errorf("pattern %q: matcher says %v on %q, want %v", p, !want, in, want)
			}
		}
	}
}

// TestOneLine checks which patterns matcher answers without the regexp
// engine.
func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		minLen  int
		ok      bool
	}{
		{`^.+$`, 1, true}, {`^.*$`, 0, true}, {`^.+?$`, 1, true}, {`^(.+)$`, 1, true}, {`\A.+\z`, 1, true},
		{`(?s)^.+$`, 0, false}, {`(?m)^.+$`, 0, false}, {`^.+`, 0, false}, {`^..+$`, 0, false}, {`^a+$`, 0, false},
	} {
		minLen, ok := oneLine(regexp.MustCompile(tc.pattern))
		if minLen != tc.minLen || ok != tc.ok {
			t.Errorf("oneLine(%q) = %d, %v; want %d, %v", tc.pattern, minLen, ok, tc.minLen, tc.ok)
		}
	}
}

func TestRegexCheckerFailure(t *testing.T) {
	c, err := compileRegex(Field{Path: "f", Kind: KindString}, `^(a|b)+$`)
	if err != nil {
		t.Fatal(err)
	}
	if c.failure() != "doesn't match regex: '^(a|b)+$'" {
		t.Errorf("failure() = %q", c.failure())
	}
	if !c.ok("abba") || c.ok("abc") {
		t.Error("regex checker gives wrong answers")
	}
}
