package strmtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

const exampleSandbox = "../examples/sandbox.yaml"

// TestWithConfig: the sandbox file is applied at start, its pinned
// credentials send, and a file that cannot be applied fails the test with
// what is wrong.
func TestWithConfig(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithConfig(exampleSandbox))
	plan := sb.Server.SandboxPlan()
	if plan == nil || !plan.Applied || len(plan.Items) != 7 || len(plan.CreatedStreams) != 2 {
		t.Fatalf("plan %v", plan)
	}
	orders := plan.CreatedStreams[0]
	if orders.Name != "orders" || orders.GetCredentials().GetClientId() != "6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b" {
		t.Fatalf("created %v", orders)
	}
	st := sb.Configured("orders")
	if res := st.Send("example/order/1.0.0", `{"strmMeta": {"eventContractRef": "example/order/1.0.0", "consentLevels": [2]}, "orderId": "ORD-1", "customerEmail": "a@example.com", "shippingAddress": "Main St 1", "status": "paid", "amountCents": 1}`); len(res) != 1 || !res[0].GetAccepted() {
		t.Fatalf("send: %v", res)
	}
	if got := fatal(t, func(tb testing.TB) { strmtest.New(tb).Configured("orders") }); got != `strmtest: the sandbox file (WithConfig) created no stream "orders"` {
		t.Fatalf("Configured without a file: %q", got)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("streams:\n  - name: a\n    derivedFrom: nowhere\n    levels: [1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := fatal(t, func(tb testing.TB) { strmtest.New(tb, strmtest.WithConfig(bad)) })
	want := "strmtest: " + bad + `: streams[0].derivedFrom: stream "nowhere" is not in the document or on the server`
	if got != want {
		t.Fatalf("failed with %q\nwant        %q", got, want)
	}
	if got := fatal(t, func(tb testing.TB) { strmtest.New(tb, strmtest.WithConfig(filepath.Join(dir, "missing.yaml"))) }); !strings.HasPrefix(got, "strmtest: cannot read the sandbox file: open ") {
		t.Fatalf("missing file: %q", got)
	}
}
