package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCPUProfileWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := startCPUProfile(path)
	require.NoError(t, err)
	require.NoError(t, stop())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// A pprof profile is a gzipped protocol buffer.
	require.Greater(t, len(data), 2)
	require.Equal(t, []byte{0x1f, 0x8b}, data[:2], "the profile is written and closed")
}

func TestCPUProfileBadPathNamesTheFlag(t *testing.T) {
	_, err := startCPUProfile(filepath.Join(t.TempDir(), "missing", "cpu.pprof"))
	require.ErrorContains(t, err, "--cpuprofile")
	stop, err := startCPUProfile("")
	require.NoError(t, err)
	require.NoError(t, stop(), "no path: no profile")
}
