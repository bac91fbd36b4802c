package history

import (
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkRecorder measures recorded events per second to a real file in a
// temporary directory. Each iteration is one write invoke and its ok
// completion: two events, two lines, each handed to the OS before the call
// returns. "serial" is one goroutine; "parallel" is GOMAXPROCS goroutines,
// each its own client.
func BenchmarkRecorder(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		r := benchRecorder(b)
		for i := 0; i < b.N; i++ {
			recordWrite(b, r, 1+i%5)
		}
		finishBench(b, r)
	})
	b.Run("parallel", func(b *testing.B) {
		r := benchRecorder(b)
		var clients atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			client := int(clients.Add(1))
			for pb.Next() {
				recordWrite(b, r, client)
			}
		})
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
	b.ResetTimer()
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

func finishBench(b *testing.B, r *Recorder) {
	b.StopTimer()
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "events/s")
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}
