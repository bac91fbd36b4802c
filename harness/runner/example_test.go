package runner_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/runner"
)

// A chaos run inside a Go test or program: a scenario from the catalog, a
// seed that reproduces it, and a run directory with the history and report.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "etcdchaos-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sc, err := faults.Lookup("smoke")
	if err != nil {
		log.Fatal(err)
	}
	res, err := runner.Run(context.Background(), sc, runner.Options{
		Seed:     42,
		Duration: 3 * time.Second,
		Members:  3,
		Out:      dir,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verdict:", res.Verdict, "exit code:", res.ExitCode)
	// Output: verdict: ok exit code: 0
}
