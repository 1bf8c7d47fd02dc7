package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

var updateCurl = flag.Bool("update-curl", false, "rewrite testdata/compat/curl.golden")

// TestCurlWalkthrough runs the README's curl walk-through of the compat
// surface (testdata/compat/curl.sh) with the real curl, over HTTP/1.1 and
// h2c with prior knowledge, against a fresh server and the built binary.
func TestCurlWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed: make test installs it (see the Makefile's test-deps)")
	}
	bin := testBinary(t)
	sb := strmtest.New(t)
	script, _ := filepath.Abs("../../testdata/compat/curl.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "STRMLOCAL="+bin, "STRMLOCAL_SERVER="+sb.URL, "XDG_CONFIG_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl.sh: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	golden := "../../testdata/compat/curl.golden"
	if *updateCurl {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("curl.sh output:\n%s\nwant:\n%s\nstderr:\n%s", out, want, stderr.Bytes())
	}
}
