package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

func TestShrinkWritesAFailingHistory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "min.jsonl")
	code, stdout, stderr := runCLI("shrink", filepath.Join(testdata, "illegal-lock-overlap.jsonl"), "--out", out, "--renumber")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "shrunk lock on l0: violation from 4 to 3 operations")
	assert.Contains(t, stdout, "wrote "+out)

	h, err := history.ReadFile(out)
	require.NoError(t, err, "the result is a well-formed history")
	assert.Len(t, h.Operations(), 3)
	assert.Equal(t, "hand", h.Header.Scenario, "the header is kept")

	code, stdout, _ = runCLI("check", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "lock l0: violation: client 2 was granted l0")
}

func TestShrinkSelectsTheCheck(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(testdata, "illegal-unfenced-unexplained.jsonl")
	code, stdout, stderr := runCLI("shrink", "--check", "unfenced-writes:l0", "--out", filepath.Join(dir, "a.jsonl"), in)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "unfenced-writes l0: violation:")

	code, _, stderr = runCLI("shrink", in, "--check", "lock:l0", "--out", filepath.Join(dir, "b.jsonl"))
	assert.Equal(t, 1, code, "the lock check passes on this history")
	assert.Contains(t, stderr, "nothing to shrink: no such finding")
	assert.NoFileExists(t, filepath.Join(dir, "b.jsonl"))
}

func TestShrinkExitCodes(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "min.jsonl")
	legal := filepath.Join(testdata, "legal-lock-contended.jsonl")
	illegal := filepath.Join(testdata, "illegal-lock-overlap.jsonl")
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"type":"header","format":"etcdchaos-history/1"}`+"\n{oops\n{}\n"), 0o644))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{legal, "--out", out}, 1, "nothing to shrink: no such finding"},
		{[]string{illegal}, 2, "--out is required"},
		{[]string{illegal, "--out", out, "--check", "mutex"}, 2, `unknown check "mutex"`},
		{[]string{bad, "--out", out}, 2, bad + ":2: not a JSON object"},
		{[]string{filepath.Join(dir, "missing.jsonl"), "--out", out}, 2, "open history"},
		{[]string{illegal, "--out", filepath.Join(dir, "no", "such", "dir.jsonl")}, 2, "create"},
		{[]string{illegal, legal, "--out", out}, 2, "expected one history file, got 2"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(append([]string{"shrink"}, tc.args...)...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
	assert.NoFileExists(t, out)
}

func TestShrinkHelpDocumentsExitCodes(t *testing.T) {
	code, _, stderr := runCLI("shrink", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "Exit codes: 0 the shrunk history was written; 1 nothing to shrink")
	assert.Contains(t, stderr, "-check")
	code, _, stderr = runCLI("help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "shrink")
}
