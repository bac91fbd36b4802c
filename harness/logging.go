package harness

import (
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// shutdownNoise lists messages that embedded etcd logs at error level on
// every normal Close (its serving goroutines report their closed listeners).
// They are dropped while the harness stops the member on purpose.
var shutdownNoise = map[string]bool{
	"setting up serving from embedded etcd failed.": true,
}

// quietCore drops known shutdown noise once stopping is set.
type quietCore struct {
	zapcore.Core
	stopping *atomic.Bool
}

// memberLogger wraps lg so that shutdown noise is dropped once stopping is set.
func memberLogger(lg *zap.Logger, stopping *atomic.Bool) *zap.Logger {
	return lg.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return &quietCore{Core: c, stopping: stopping}
	}))
}

func (q *quietCore) With(fields []zapcore.Field) zapcore.Core {
	return &quietCore{Core: q.Core.With(fields), stopping: q.stopping}
}

func (q *quietCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.stopping.Load() && shutdownNoise[ent.Message] {
		return ce
	}
	return q.Core.Check(ent, ce)
}
