package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/nightly"
	"github.com/etcdchaos/etcdchaos/reports"
)

// TestZooComparesEtcds runs a tiny zoo on the pinned etcd under two labels
// (as if two releases): each label gets its run with the same seed, the
// table and the aggregate report set them side by side, and a zoo without
// findings passes.
func TestZooComparesEtcds(t *testing.T) {
	bin, err := harness.FindEtcd()
	require.NoError(t, err, "the zoo runs etcd processes: make etcd")
	out := filepath.Join(t.TempDir(), "zoo")
	code, stdout, stderr := runCLI("zoo", "--etcd-bin", "old="+bin+",new="+bin, "--scenarios", "smoke",
		"--seeds", "1", "--seed", "5", "--duration", "2s", "--members", "1", "--out", out, "--parallel", "2")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Regexp(t, `(?m)^ETCD +SCENARIO +RUNS +VERDICTS +KNOWN ISSUES +DETECTED$`, stdout)
	assert.Regexp(t, `(?m)^old +smoke +1 +1 ok +- +-$`, stdout)
	assert.Regexp(t, `(?m)^new +smoke +1 +1 ok +- +-$`, stdout)
	assert.Contains(t, stdout, "zoo: 2 runs")

	data, err := os.ReadFile(filepath.Join(out, reports.AggregateSummaryFile))
	require.NoError(t, err)
	var agg struct {
		reports.Aggregate
		Matrix *reports.Matrix `json:"matrix"`
	}
	require.NoError(t, json.Unmarshal(data, &agg))
	require.Len(t, agg.Runs, 2)
	for i, label := range []string{"old", "new"} {
		r := agg.Runs[i]
		require.Equal(t, label, r.Etcd)
		require.Equal(t, int64(5), r.Seed, "the same seed on every etcd")
		require.NotNil(t, r.Summary, "run %s: %s", r.ID, r.Error)
		require.Equal(t, strings.TrimPrefix(pinnedRelease(), "v"), r.Summary.EtcdVersion, "the cluster was the binary's")
		require.Contains(t, r.Command, "--mode process --etcd-bin "+bin)
		require.FileExists(t, filepath.Join(out, r.ID, reports.IndexFile))
	}
	require.NotNil(t, agg.Matrix)
	require.Equal(t, []string{"smoke"}, agg.Matrix.Scenarios)
	require.Len(t, agg.Matrix.Rows, 2)
	require.Equal(t, "old", agg.Matrix.Rows[0].Etcd)
	require.Equal(t, 1, agg.Matrix.Rows[1].Cells[0].Runs)

	index, err := os.ReadFile(filepath.Join(out, reports.AggregateIndexFile))
	require.NoError(t, err)
	assert.Contains(t, string(index), "etcd × scenario")
	assert.Contains(t, string(index), agg.Runs[1].ID+"/index.html")
	data, err = os.ReadFile(filepath.Join(out, reports.AggregateJUnitFile))
	require.NoError(t, err)
	var junit struct {
		Suites []struct{} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(data, &junit))
	assert.Len(t, junit.Suites, 2)
}

func TestZooFindsReleases(t *testing.T) {
	bin, err := harness.FindEtcd()
	require.NoError(t, err)
	require.NotEmpty(t, pinnedRelease())
	got, err := releaseBinary(pinnedRelease())
	require.NoError(t, err)
	assert.Equal(t, bin, got, "the pinned release is bin/etcd")
	_, err = releaseBinary("v3.5.0-nonexistent")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make etcd ETCD_VERSION=v3.5.0-nonexistent")
}

func TestZooBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--versions", "v3.5.0-nonexistent"},
		{"--etcd-bin", "/nonexistent/etcd"},
		{"--etcd-bin", "a=/bin/true,a=/bin/true"},
		{"--etcd-bin", "/bin/true", "--scenarios", "nope"},
		{"--etcd-bin", "/bin/true", "extra"},
		{"--etcd-bin", "/bin/true", "--shard", "3/2"},
		{"--etcd-bin", "/bin/true", "--shard", "abc"},
		{"--etcd-bin", "/bin/true", "--parallel", "-1"},
	} {
		code, _, stderr := runCLI(append([]string{"zoo", "--out", t.TempDir()}, args...)...)
		assert.Equal(t, exitUsage, code, "%v", args)
		assert.NotEmpty(t, stderr, "%v", args)
	}
}

// Without --versions or --etcd-bin the zoo runs the default release list,
// which --list-releases prints for `make zoo-etcd`.
func TestZooListReleases(t *testing.T) {
	code, stdout, _ := runCLI("zoo", "--list-releases")
	require.Equal(t, 0, code)
	assert.Equal(t, strings.Join(nightly.DefaultReleases(), "\n")+"\n", stdout)
	assert.Contains(t, stdout, "v3.7.4\n")
}
