// Package leakcheck fails tests that leave goroutines behind, like goleak,
// but gives goroutines that are already on their way out (gRPC and HTTP
// connection loops that end just after Close returns) a few seconds to go.
// A goroutine that is really leaked never goes, so it is still reported.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Grace is how long goroutines may take to end after a test.
const Grace = 5 * time.Second

// find returns nil once no unexpected goroutine is left, or goleak's last
// report when grace has passed.
func find(grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// VerifyTestMain runs the package's tests, then fails the package if
// goroutines are left after they passed.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := find(Grace); err != nil {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines left after the tests passed: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// VerifyNone fails t if goroutines are left; defer it at the start of a test
// that does not run in parallel with others.
func VerifyNone(t testing.TB) {
	t.Helper()
	if err := find(Grace); err != nil {
		t.Errorf("goroutines left: %v", err)
	}
}
