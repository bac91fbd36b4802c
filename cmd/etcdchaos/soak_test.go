package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
)

func TestSoakRunsEachScenarioAndSeed(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("soak", "--seeds", "2", "--duration", "2s", "--members", "1", "--scenarios", "smoke", "--out", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Regexp(t, `(?m)^smoke +1 +ok +0`, stdout)
	assert.Regexp(t, `(?m)^smoke +2 +ok +0`, stdout)
	assert.Contains(t, stdout, "soak: 2 runs, 0 failed")
	for _, d := range []string{"smoke-1", "smoke-2"} {
		_, err := os.Stat(filepath.Join(out, d, "history.jsonl"))
		assert.NoError(t, err, d)
	}
}

func TestSoakTable(t *testing.T) {
	var b bytes.Buffer
	rows := []soakRow{
		{scenario: "lock-pause", seed: 1, verdict: models.UnsafeWithoutFencing, note: "documented"},
		{scenario: "mixed", seed: 2, verdict: models.Violation, code: models.ExitViolation, note: "lock l0 violation"},
	}
	assert.Equal(t, models.ExitViolation, printSoak(&b, rows, false))
	assert.Contains(t, b.String(), "soak: 2 runs, 1 failed")
	assert.Regexp(t, `(?m)^mixed +2 +violation +1 +lock l0 violation$`, b.String())
	b.Reset()
	assert.Equal(t, 0, printSoak(&b, rows[:1], false))
	assert.Equal(t, models.ExitUnknown, printSoak(&b, rows[:1], true), "an interrupted soak does not pass: not every run was done")

	for _, args := range [][]string{{"--seeds", "0"}, {"--scenarios", "nope"}, {"extra"}} {
		code, _, _ := runCLI(append([]string{"soak"}, args...)...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
}
