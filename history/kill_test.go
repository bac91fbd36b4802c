package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv names the history file the helper process records to.
const childEnv = "ETCDCHAOS_RECORDER_CHILD"

// Shape of the child's recording.
const (
	childWorkers  = 4                // clients that invoke and complete in a loop
	childStuck    = 3                // clients whose one op never completes
	childLifetime = 20 * time.Second // the child stops by itself if nobody kills it
)

// TestHelperRecorderProcess is not a test: it is the child process of
// TestRecorderSurvivesSIGKILL, recording until it is killed.
func TestHelperRecorderProcess(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process for TestRecorderSurvivesSIGKILL")
	}
	r, err := Create(path, Header{Scenario: "sigkill", Clients: childWorkers + childStuck})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for c := 1; c <= childStuck; c++ {
		if _, err := r.Invoke(100+c, FLock, "l0", &Value{Lease: int64(c)}); err != nil {
			os.Exit(3)
		}
	}
	deadline := time.Now().Add(childLifetime)
	var wg sync.WaitGroup
	for c := 1; c <= childWorkers; c++ {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				op, err := r.Invoke(c, FWrite, "l0", &Value{Key: "l0/k", Rev: 3, Fenced: Bool(i%2 == 0), Data: fmt.Sprintf("c%d-%d", c, i)})
				if err == nil {
					err = r.Ok(op, &Value{Rev: int64(i + 1)})
				}
				if err == nil {
					err = ack(op)
				}
				if err != nil {
					os.Exit(3)
				}
			}
		})
	}
	wg.Wait()
	os.Exit(4) // not killed in time: the parent fails
}

var ackMu sync.Mutex

// ack tells the parent, after Ok returned, that op completed: the parent
// checks that every acknowledged completion is in the file.
func ack(op int64) error {
	ackMu.Lock()
	defer ackMu.Unlock()
	_, err := fmt.Fprintf(os.Stdout, "%d\n", op)
	return err
}

// TestRecorderSurvivesSIGKILL kills a process that is recording with ops in
// flight and checks that what it left is a valid history.
func TestRecorderSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("inside the helper process")
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRecorderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	const minBytes = 1 << 20 // about 15k lines
	require.Eventually(t, func() bool {
		st, err := os.Stat(path)
		return err == nil && st.Size() >= minBytes
	}, 15*time.Second, 5*time.Millisecond, "child did not record enough")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := <-exited
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child was killed, not exited: %v %s", err, &stderr)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	h, err := ReadFile(path)
	require.NoError(t, err, "a killed recorder leaves a valid history")

	// Every complete line is intact and read, in order.
	complete := bytes.Split(raw[:bytes.LastIndexByte(raw, '\n')+1], []byte("\n"))
	complete = complete[1 : len(complete)-1] // header; empty tail after the last newline
	require.Len(t, h.Events, len(complete))
	for i, line := range complete {
		var e Event
		require.NoError(t, json.Unmarshal(line, &e), "line %d", i+2)
		require.Equal(t, e, h.Events[i], "line %d", i+2)
	}
	assert.LessOrEqual(t, len(h.Warnings), 1)

	// Ops in flight at the kill read as pending (info): at least the stuck ones.
	pending := map[int]bool{}
	ops := h.Operations()
	for _, op := range ops {
		if op.Outcome == Pending {
			assert.True(t, op.Outcome.Unknown())
			assert.Equal(t, Never, op.Return)
			pending[op.Client] = true
		} else {
			assert.Equal(t, Ok, op.Outcome)
		}
	}
	for c := 1; c <= childStuck; c++ {
		assert.True(t, pending[100+c], "stuck client %d reads as pending", 100+c)
	}
	assert.Greater(t, len(ops), 5000)

	// Each line reached the OS before Ok returned: every completion the
	// child acknowledged is in the file.
	outcome := map[int64]Outcome{}
	for _, op := range ops {
		outcome[op.ID] = op.Outcome
	}
	acked := 0
	for line := range bytes.Lines(stdout.Bytes()) {
		var op int64
		if _, err := fmt.Sscanf(string(line), "%d\n", &op); err != nil {
			continue // test framework output
		}
		acked++
		require.Equal(t, Ok, outcome[op], "acknowledged op %d is complete in the file", op)
	}
	assert.Greater(t, acked, 1000)
}
