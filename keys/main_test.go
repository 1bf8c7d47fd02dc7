package keys_test

import (
	"testing"

	"github.com/strmlocal/strmlocal/internal/pgtest"
)

// TestMain stops the shared PostgreSQL server (pgtest.Shared) that
// BenchmarkSharedLinkCreate starts, if it ran.
func TestMain(m *testing.M) { pgtest.Main(m) }
