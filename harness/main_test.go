package harness

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleakOptions()...)
}

// goleakOptions lists goroutines allowed to outlive a closed cluster. None
// are needed: Close waits for every goroutine of members, proxies and
// clients.
func goleakOptions() []goleak.Option {
	return nil
}
