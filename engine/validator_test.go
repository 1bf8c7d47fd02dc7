package engine

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestMatchOnlyEquivalent checks that the rewritten regexp accepts exactly the
// strings the pattern as written accepts.
func TestMatchOnlyEquivalent(t *testing.T) {
	patterns := []string{
		`^.+$`,
		`^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]`,
		`^MCH-[0-9]{5}$`,
		`a+b`, `a+?b`, `(?U)a+b`, `(a|ab)(c|bcd)(d*)`, `^(a*)*$`, `x{2,3}?y`, `(?i)AB+`,
		`(?s)a.b`, `(?m)^b$`, `\Aab*\z`, `\bab?\b`, `[^a]*a`, `^$`, `(?P<name>a+)b+`, `a{0}`, `(a?){3}c`,
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
	inputs = append(inputs, "", "https://x", "https://", "ftp://a b", "MCH-00042", "aab", "ab\nb")
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		fast := matchOnly(re)
		for _, in := range inputs {
			if re.MatchString(in) != fast.MatchString(in) {
				t.Errorf("pattern %q (rewritten %q) disagrees on %q", p, fast, in)
			}
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
