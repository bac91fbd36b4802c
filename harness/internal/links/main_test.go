package links

import (
	"testing"

	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
)

// TestMain fails the package if any test leaves goroutines behind: Close of
// a proxy waits for every goroutine it starts.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
