package harness

import (
	"strings"
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

// benignErrors lists error-level messages that etcd logs in a normal run for
// a transient condition it or the harness retries, with the error text that marks
// the benign case. They are logged at warn level instead.
//
// "failed to update storage version": right after bootstrap the cluster
// version can be set before the backend has committed the raft term, so the
// storage version monitor cannot detect the schema yet; it retries later.
//
// "creating peer listener failed": the harness picks ports that were free a
// moment earlier; when another process took one in between, the member's
// start fails and the harness starts it again on new ports.
var benignErrors = map[string]string{
	"failed to update storage version": "missing term information",
	"creating peer listener failed":    "address already in use",
}

// quietCore drops known shutdown noise once stopping is set, and downgrades
// benign errors to warnings.
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
	if _, ok := benignErrors[ent.Message]; ok {
		// Decided in Write, which sees the fields.
		if q.Enabled(zapcore.WarnLevel) {
			return ce.AddCore(ent, q)
		}
		return ce
	}
	return q.Core.Check(ent, ce)
}

// Write is only reached for entries listed in benignErrors.
func (q *quietCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	if marker, ok := benignErrors[ent.Message]; ok && hasErrorText(fields, marker) && ent.Level > zapcore.WarnLevel {
		ent.Level = zapcore.WarnLevel
	}
	if !q.Enabled(ent.Level) {
		return nil
	}
	return q.Core.Write(ent, fields)
}

// hasErrorText reports whether an error field's message contains text.
func hasErrorText(fields []zapcore.Field, text string) bool {
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType && strings.Contains(err.Error(), text) {
			return true
		}
	}
	return false
}
