package harness

import (
	"testing"

	"github.com/etcdchaos/etcdchaos/harness/internal/leakcheck"
)

// TestMain fails the package if any test leaves goroutines behind. Close
// waits for every goroutine of members, proxies and clients it starts;
// connection loops of gRPC and net/http may end just after it returns.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
