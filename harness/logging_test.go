package harness

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMemberLoggerFilters(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	stopping := new(atomic.Bool)
	lg := memberLogger(zap.New(core), stopping).With(zap.String("member", "m1"))

	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("boom")))
	stopping.Store(true)
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("closed")))
	lg.Error("failed to update storage version", zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	lg.Error("failed to update storage version", zap.Error(errors.New("disk on fire")))
	lg.Error("creating peer listener failed", zap.Error(errors.New("listen tcp 127.0.0.1:43615: bind: address already in use")))
	lg.Error("creating peer listener failed", zap.Error(errors.New("listen tcp 127.0.0.1:43615: bind: permission denied")))
	lg.Info("ignored below warn")

	all := logs.All()
	require.Len(t, all, 5)
	assert.Equal(t, zapcore.ErrorLevel, all[0].Level, "noise before stopping is kept")
	assert.Equal(t, zapcore.WarnLevel, all[1].Level, "benign error downgraded")
	assert.Equal(t, zapcore.ErrorLevel, all[2].Level, "other errors stay errors")
	assert.Equal(t, zapcore.WarnLevel, all[3].Level, "a port taken before the harness's retry is benign")
	assert.Equal(t, zapcore.ErrorLevel, all[4].Level, "other listener errors stay errors")
	assert.Equal(t, "m1", all[1].ContextMap()["member"])
}
