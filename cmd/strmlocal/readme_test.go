package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite testdata/readme/tour.golden")

// builtBinary builds the strmlocal binary once for the tests that run it as
// a user would (the curl and README walk-throughs).
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "strmlocal-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "strmlocal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func testBinary(t *testing.T) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestMain removes the binary builtBinary made.
func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := builtBinary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// notRun marks a README block the tour test does not run; the reason
// follows it on the same line.
const notRun = "<!-- not run by the README test:"

// tourScript turns the README's sh blocks into one bash script that prints
// each command ("$ " and its lines) before its output, and "(exit N)" after
// a command that fails. Comment lines are notes for the reader and are not
// run. A block after a notRun line is left out.
func tourScript(readme string) (string, error) {
	var b strings.Builder
	lines := strings.Split(readme, "\n")
	prev := "" // the last non-blank line outside a block
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if !strings.HasPrefix(line, "```") {
			if strings.TrimSpace(line) != "" {
				prev = line
			}
			continue
		}
		lang := strings.TrimPrefix(line, "```")
		end := i + 1
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			return "", fmt.Errorf("README.md:%d: the block is not closed", i+1)
		}
		block := lines[i+1 : end]
		i = end
		if lang != "sh" || strings.HasPrefix(prev, notRun) {
			continue
		}
		for j := 0; j < len(block); j++ {
			first := block[j]
			if t := strings.TrimSpace(first); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			cmd := []string{first}
			for strings.HasSuffix(block[j], `\`) && j+1 < len(block) {
				j++
				cmd = append(cmd, block[j])
			}
			if m := heredocRE.FindStringSubmatch(strings.Join(cmd, "\n")); m != nil {
				for j+1 < len(block) {
					j++
					cmd = append(cmd, block[j])
					if block[j] == m[1] {
						break
					}
				}
			}
			text := strings.Join(cmd, "\n")
			fmt.Fprintf(&b, "printf '%%s\\n' %s\n%s\nrc=$?; [ $rc = 0 ] || echo \"(exit $rc)\"\n", shellQuote("$ "+text), text)
		}
	}
	return b.String(), nil
}

var heredocRE = regexp.MustCompile(`<<-?'?([A-Za-z_]+)'?`)

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// The parts of the tour's output that differ from run to run.
var tourScrubs = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`value"+:"+[A-Za-z0-9+/=]+`), `value":"<key>`},
	{regexp.MustCompile(`(?i)(primaryKeyId|keyId)("+):\d+`), `$1$2:<n>`},
	{regexp.MustCompile(`"(nonce|timestamp)":\d+`), `"$1":<n>`},
	{regexp.MustCompile(`"\d{13}"`), `"<epoch ms>"`},
	{regexp.MustCompile(`\bA[A-Za-z0-9+/_-]{30,}={0,2}`), "<ciphertext>"},
	{regexp.MustCompile(`eyJ[A-Za-z0-9_.-]+`), "<token>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d[:\d.]*Z?`), "<time>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?( UTC)?`), "<time>"},
	{regexp.MustCompile(`(?m)^Date: .*$`), "Date: <http date>"},
	{regexp.MustCompile(`tmp\.[A-Za-z0-9]{10}`), "tmp.XXXXXXXXXX"},
	// What depends on the machine's speed, or on the random nonces' digits.
	{regexp.MustCompile(`in [\d.]+(µs|ms|s|m[\d.]+s): \d+ events/s`), "in <duration>: <n> events/s"},
	{regexp.MustCompile(`p50 [\d.]+(µs|ms|s), p99 [\d.]+(µs|ms|s)`), "p50 <duration>, p99 <duration>"},
	{regexp.MustCompile(`(?m)^(bytes:\s+)\d+$`), "${1}<n>"},
	// Table columns are as wide as what was scrubbed away (indentation
	// stays).
	{regexp.MustCompile(`(\S) {2,}`), "$1  "},
}

// scrubTour replaces what differs from run to run: the temporary dirs, the
// server's address (by the README's own), ids, secrets and keys.
func scrubTour(s, addr string, dirs ...string) string {
	s = strings.ReplaceAll(s, addr, "127.0.0.1:50051")
	for _, d := range dirs {
		s = strings.ReplaceAll(s, d, "$TMP")
	}
	s = scrub(s)
	for _, r := range tourScrubs {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// TestReadmeTour runs every sh block of README.md, top to bottom, as a
// newcomer would: in a fresh directory holding only bin/strmlocal and the
// repository's examples, with a fresh config dir, against the server the
// tour says to start. Every command's output is compared with
// testdata/readme/tour.golden, and the directory must hold nothing new
// afterwards.
func TestReadmeTour(t *testing.T) {
	// make test-deps puts grpcurl in $(go env GOPATH)/bin, which PATH may lack.
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(strings.Split(strings.TrimSpace(string(gopath)), string(os.PathListSeparator))[0], "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	t.Setenv("PATH", path)
	for _, tool := range []string{"curl", "jq", "grpcurl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README tour needs %s: make test installs it (see the Makefile's test-deps)", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := tourScript(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	work, home := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(testBinary(t), filepath.Join(work, "bin", "strmlocal")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(work, "examples"), os.DirFS("../../examples")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	before := listTree(t, work)

	url := startTourServer(t, filepath.Join(work, "bin", "strmlocal"), home)
	script = strings.ReplaceAll(script, "127.0.0.1:50051", strings.TrimPrefix(url, "http://"))
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + path, "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"TMPDIR=" + home, "STRMLOCAL_SERVER=" + url, "LANG=C.UTF-8", "TZ=UTC",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the tour: %v\n%s", err, out.String())
	}
	got := scrubTour(out.String(), strings.TrimPrefix(url, "http://"), work, home)

	golden := "../../testdata/readme/tour.golden"
	if *updateReadme {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the README tour's output differs from %s (go test -run TestReadmeTour -update-readme rewrites it):\n%s", golden, lineDiff(string(want), got))
	}
	if after := listTree(t, work); !slices.Equal(before, after) {
		t.Errorf("the tour left files behind: before %q, after %q", before, after)
	}
}

// startTourServer starts the binary as the README's tour says, on a free
// port, and returns its URL; it is stopped at the end of the test.
func startTourServer(t *testing.T, bin, home string) string {
	t.Helper()
	srv := exec.Command(bin, "serve", "--ephemeral", "--clock", "virtual", "--addr", "127.0.0.1:0")
	srv.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-done
		}
	})
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing: %s", stderr.String())
	}
	m := regexp.MustCompile(`serving on (http://\S+),`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("serve: %q", lines.Text())
	}
	go io.Copy(io.Discard, stdout)
	return m[1]
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// lineDiff shows the lines of got that differ from want, with numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
