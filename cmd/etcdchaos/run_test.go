package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// mainEnv makes the test binary act as the etcdchaos command (see TestMain),
// so a test can run it as a child process and signal it.
const mainEnv = "ETCDCHAOS_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRunInterruptedBySIGINT interrupts a real run: the process heals,
// checks what was recorded, writes a complete run directory and exits with
// a verdict's exit code, leaving no temporary directory behind.
func TestRunInterruptedBySIGINT(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "run", "--scenario", "mixed", "--seed", "3", "--duration", "2m", "--out", out)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Interrupt once operations are being recorded.
	require.Eventually(t, func() bool {
		st, err := os.Stat(filepath.Join(out, "history.jsonl"))
		return err == nil && st.Size() > 300_000
	}, time.Minute, 50*time.Millisecond, "the run recorded nothing: %s", &stderr)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("the run did not exit after SIGINT: %s", &stderr)
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	}
	require.Contains(t, []int{models.ExitOk, models.ExitUnknown}, code, "stderr: %s", &stderr)

	var summary struct {
		Verdict string   `json:"verdict"`
		Notes   []string `json:"notes"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &summary))
	require.NotEmpty(t, summary.Verdict)
	require.Contains(t, strings.Join(summary.Notes, " "), "interrupted")
	for _, f := range []string{"index.html", "junit.xml", "history.jsonl"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "temporary files outlived the run")
}

// TestRunMutantDefaultsToItsScenario: --mutant without --scenario runs the
// mutant's own scenario (in the run directory's name, the command that
// reproduces it and the recorded history); an explicit --scenario wins, even
// when it names the default scenario.
func TestRunMutantDefaultsToItsScenario(t *testing.T) {
	for _, m := range workloads.Mutants() {
		f, _, err := parseRunFlags([]string{"--mutant", m.Name, "--seed", "4"}, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, m.Scenario, f.scenario, m.Name)
		assert.Equal(t, filepath.Join("runs", m.Scenario+"-4"), f.out, m.Name)
		assert.Contains(t, f.reproCommand(), "--scenario "+m.Scenario+" ", m.Name)
	}
	for _, sc := range []string{"lock-kill", "mixed"} {
		f, _, err := parseRunFlags([]string{"--mutant", "lock-no-wait", "--scenario", sc}, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, sc, f.scenario)
	}
	f, _, err := parseRunFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "mixed", f.scenario, "without a mutant the default scenario runs")

	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI("run", "--mutant", "lock-no-wait", "--seed", "1", "--duration", "2s", "--members", "1", "--out", out)
	require.NotEqual(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	h, err := history.ReadFile(filepath.Join(out, "history.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, "smoke", h.Header.Scenario)
	assert.Equal(t, "lock-no-wait", h.Header.Mutant)
	assert.Contains(t, stderr, "scenario smoke, seed 1")
}

// --fix applies the client-side fixes of known etcd issues; it is part of
// the reproduce command and of the options, and an issue without a fix is
// a usage error that names the fixes there are.
func TestRunFixes(t *testing.T) {
	f, _, err := parseRunFlags([]string{"--scenario", "waiters", "--seed", "3", "--fix", "19597, 22123"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []int{19597, 22123}, f.fixes)
	assert.Contains(t, f.reproCommand(), "--fix 19597,22123")
	assert.Equal(t, []int{19597, 22123}, f.options(io.Discard).Fixes)

	code, _, stderr := runCLI("run", "--fix", "1234")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "no fix for etcd issue 1234 (there are fixes for 19597, 21128, 22082, 22123)")
	code, _, stderr = runCLI("run", "--fix", "x")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `"x" is not an etcd issue number`)
}

// --clients defaults to the scenario's: left out of the reproduce command,
// so the same command runs what the scenario says; given, it is kept.
func TestRunClientsDefaultToTheScenarios(t *testing.T) {
	f, _, err := parseRunFlags([]string{"--scenario", "stale-leader", "--seed", "3"}, io.Discard)
	require.NoError(t, err)
	assert.Zero(t, f.options(io.Discard).Clients, "the runner takes the scenario's")
	assert.NotContains(t, f.reproCommand(), "--clients")
	f, _, err = parseRunFlags([]string{"--scenario", "stale-leader", "--seed", "3", "--clients", "7"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 7, f.options(io.Discard).Clients)
	assert.Contains(t, f.reproCommand(), "--clients 7 ")
}
