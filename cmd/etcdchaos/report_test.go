package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/reports"
)

// runDir makes a run directory holding a copy of a models testdata history.
func runDir(t *testing.T, testdata string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "models", "testdata", testdata))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.HistoryFile), b, 0o644))
	return dir
}

func readSummary(t *testing.T, dir string) reports.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, reports.SummaryFile))
	require.NoError(t, err)
	var s reports.Summary
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

func TestReportViolation(t *testing.T) {
	dir := runDir(t, "illegal-lock-overlap.jsonl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", dir, "--timeout", "10s"}, &stdout, &stderr)
	assert.Equal(t, models.ExitViolation, code, stderr.String())
	assert.Contains(t, stdout.String(), "verdict: violation")
	for _, f := range []string{reports.IndexFile, reports.JUnitFile, reports.SummaryFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.Equal(t, models.Violation, readSummary(t, dir).Verdict)
}

func TestReportOk(t *testing.T) {
	dir := runDir(t, "legal-lock-simple.jsonl")
	var stdout, stderr bytes.Buffer
	assert.Equal(t, models.ExitOk, run([]string{"report", "--strict", dir}, &stdout, &stderr), stderr.String())
	assert.Equal(t, models.Ok, readSummary(t, dir).Verdict)
}

// A regenerated report keeps what only the run knew (its command, its
// duration); its verdict, liveness included, comes from the history.
func TestReportKeepsWhatOnlyTheRunKnew(t *testing.T) {
	dir := runDir(t, "legal-lock-simple.jsonl")
	f, err := os.OpenFile(filepath.Join(dir, reports.HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"type":"invoke","op":90,"client":200000,"f":"probe","name":"l0","time":900000000,"value":{}}` + "\n" +
		`{"type":"fail","op":90,"time":920000000,"value":{},"error":"not within 21s after healing: context deadline exceeded"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	meta := reports.Meta{Command: "etcdchaos run --seed 77", Duration: 31 * time.Second}
	h := mustReadHistory(t, dir)
	require.NoError(t, reports.Write(dir, h, models.Result{Verdict: models.Ok}, meta))

	var stdout, stderr bytes.Buffer
	code := run([]string{"report", dir}, &stdout, &stderr)
	assert.Equal(t, models.ExitViolation, code, "the failing liveness probe in the history fails the run")
	s := readSummary(t, dir)
	assert.Equal(t, "etcdchaos run --seed 77", s.Command)
	assert.Equal(t, int64(31*time.Second), s.DurationNs)
	assert.Contains(t, stdout.String(), "after healing, l0 could not be acquired")
}

func TestReportBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, models.ExitBadInput, run([]string{"report", t.TempDir()}, &stdout, &stderr), "no history")
	assert.Contains(t, stderr.String(), "history")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.HistoryFile), []byte("not json\n{}\n"), 0o644))
	stderr.Reset()
	assert.Equal(t, models.ExitBadInput, run([]string{"report", dir}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), ":1:", "the line number")

	assert.Equal(t, exitUsage, run([]string{"report"}, &stdout, &stderr), "no RUNDIR")
	assert.Equal(t, exitUsage, run([]string{"report", dir, "extra"}, &stdout, &stderr))
	assert.Equal(t, exitUsage, run([]string{"report", "--timeout", "soon", dir}, &stdout, &stderr))
}

func mustReadHistory(t *testing.T, dir string) *history.History {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(dir, reports.HistoryFile))
	require.NoError(t, err)
	return h
}
