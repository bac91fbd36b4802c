// Package handwritten reads the hand-written and recorded histories under
// models/testdata, for the tests of every checking package.
package handwritten

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/etcdchaos/etcdchaos/history"
)

// Dir is the directory of the histories.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Read reads the history NAME.jsonl, failing t if it cannot.
func Read(t testing.TB, name string) *history.History {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(Dir(), name+".jsonl"))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return h
}
