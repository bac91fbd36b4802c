package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
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
