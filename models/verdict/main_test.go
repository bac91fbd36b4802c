package verdict

import (
	"testing"

	"go.uber.org/goleak"
)

// Porcupine runs each check in its own goroutine; none may outlive Check.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
