package linear

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// Porcupine runs each check in its own goroutine; none may outlive Check.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func readTestdata(t testing.TB, name string) *history.History { return handwritten.Read(t, name) }

// check runs the porcupine checks on h as the verdict package does: on the
// operations as recorded, with what server truth settles.
func check(t testing.TB, h *history.History, opts Options) []models.CheckResult {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	ops := h.Operations()
	ops = append(ops, truth.Settle(truth.Build(h), ops)...)
	res, err := Check(context.Background(), ops, h.Faults(), truth.Leases(h), opts)
	require.NoError(t, err)
	return res
}

func findCheck(res []models.CheckResult, check string) (models.CheckResult, bool) {
	for _, c := range res {
		if c.Check == check {
			return c, true
		}
	}
	return models.CheckResult{}, false
}
