package history

import (
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// writesPerIteration is how many write operations (an invoke and its ok
// completion: two events, two lines) one iteration of BenchmarkRecorder
// records, so that every iteration, and any -benchtime, measures a batch
// long enough to time: ns/op is per batch and events/s is over all batches.
const writesPerIteration = 25_000

// BenchmarkRecorder measures recorded events per second to a real file in a
// temporary directory, each line handed to the OS before the call returns.
// "serial" is one goroutine; "parallel" is GOMAXPROCS goroutines, each its
// own client, sharing each iteration's batch.
func BenchmarkRecorder(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		r := benchRecorder(b)
		for b.Loop() {
			for i := range writesPerIteration {
				recordWrite(b, r, 1+i%5)
			}
		}
		finishBench(b, r)
	})
	b.Run("parallel", func(b *testing.B) {
		r := benchRecorder(b)
		procs := runtime.GOMAXPROCS(0)
		for b.Loop() {
			var wg sync.WaitGroup
			for client := 1; client <= procs; client++ {
				wg.Go(func() {
					for range writesPerIteration / procs {
						recordWrite(b, r, client)
					}
				})
			}
			wg.Wait()
		}
		finishBench(b, r)
	})
}

func benchRecorder(b *testing.B) *Recorder {
	b.Helper()
	r, err := Create(filepath.Join(b.TempDir(), "history.jsonl"), Header{Scenario: "bench", Members: 3})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	return r
}

var (
	benchIn  = &Value{Key: "/etcdchaos/lock/l0/694d9a1c2b3f4e01", Rev: 912, Fenced: Bool(true), Data: "c3-17"}
	benchOut = &Value{Rev: 913}
)

func recordWrite(b *testing.B, r *Recorder, client int) {
	op, err := r.Invoke(client, FWrite, "l0", benchIn)
	if err != nil {
		b.Error(err)
		return
	}
	if err := r.Ok(op, benchOut); err != nil {
		b.Error(err)
	}
}

// finishBench reports the events recorded per second over every batch and
// closes the recorder outside the timed loop.
func finishBench(b *testing.B, r *Recorder) {
	b.ReportMetric(float64(2*writesPerIteration*b.N)/b.Elapsed().Seconds(), "events/s")
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}
