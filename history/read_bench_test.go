package history

import (
	"bytes"
	"fmt"
	"testing"
)

// benchHistory is a recorded lock history of n operations over 20 names.
func benchHistory(b *testing.B, n int) []byte {
	b.Helper()
	var buf bytes.Buffer
	rec, err := New(&buf, Header{Scenario: "bench", Members: 3})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		client := i%10 + 1
		name := fmt.Sprintf("l%d", i%20)
		op, err := rec.Invoke(client, FWrite, name, &Value{Key: "/etcdchaos/lock/" + name + "/694d9a1b2c3d", Rev: int64(i), Fenced: Bool(i%2 == 0), Data: fmt.Sprintf("c%d-%d", client, i)})
		if err != nil {
			b.Fatal(err)
		}
		if err := rec.Ok(op, &Value{Rev: int64(i + 1)}); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

func BenchmarkRead100k(b *testing.B) {
	data := benchHistory(b, 100_000)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
