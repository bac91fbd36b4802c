package reports

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/models"
)

// planAggregate is an unsharded batch of k runs with every kind of outcome:
// ok, a known issue (found 2 s into the run), a violation, an unknown, a
// run that could not be carried out and one the budget skipped. Ids start
// with the run's position in the plan, as the planner's do.
func planAggregate(k int) Aggregate {
	a := Aggregate{Name: "nightly", Started: time.Date(2026, 3, 1, 3, 17, 0, 0, time.UTC), Elapsed: 10 * time.Minute,
		Budget: 30 * time.Minute, PlanRuns: k}
	for i := range k {
		r := AggregateRun{ID: fmt.Sprintf("%02d-smoke-grpc-m3", i+1), PlanIndex: i + 1, Scenario: "smoke", Backend: "grpc", Members: 3,
			Seed: 20260301 + int64(i), Planned: 20 * time.Second, Command: fmt.Sprintf("etcdchaos run --seed %d", 20260301+i)}
		s := &Summary{Format: SummaryFormat, Scenario: "smoke", Seed: r.Seed, Verdict: models.Ok, ExitCode: models.ExitOk,
			Checks: []CheckSummary{{Check: "lock", Name: "l0", Verdict: models.Ok}}}
		switch i % 6 {
		case 1:
			s.Verdict = models.KnownIssue
			s.Checks[0].Verdict = models.KnownIssue
			s.KnownIssues = []models.Finding{{Issue: &models.IssueRef{ID: "19597", Upstream: true}, Class: models.KnownIssue, At: int64(2 * time.Second)}}
		case 2:
			s.Verdict, s.ExitCode = models.Violation, models.ExitViolation
			s.Checks[0] = CheckSummary{Check: "lock", Name: "l0", Verdict: models.Violation, Fails: true, Account: "two holders", AtNs: int64(4 * time.Second)}
		case 3:
			s.Verdict, s.ExitCode = models.Unknown, models.ExitUnknown
			s.Checks[0] = CheckSummary{Check: "lock", Name: "l0", Verdict: models.Unknown, Fails: true, Account: "timed out"}
		case 4:
			s = nil
			r.Error = "cluster did not start"
		case 5:
			s = nil
			r.Skipped = "the budget is spent"
		}
		r.Summary = s
		a.Runs = append(a.Runs, r)
	}
	return a
}

// writeShards deals the plan's runs to n shards as the sharder does (run k
// to shard k mod n), writes each shard's directory (run directories with
// their summary.json and a report, then its aggregate) and returns the
// directories.
func writeShards(t *testing.T, plan Aggregate, n int) []string {
	t.Helper()
	root := t.TempDir()
	dirs := make([]string, n)
	shards := make([]Aggregate, n)
	for i := range n {
		dirs[i] = filepath.Join(root, fmt.Sprintf("shard-%d", i+1))
		shards[i] = Aggregate{Name: plan.Name, Started: plan.Started.Add(time.Duration(i) * time.Second),
			Elapsed: plan.Elapsed / time.Duration(n), Budget: plan.Budget,
			Shard: &ShardInfo{Index: i + 1, Count: n}, PlanRuns: len(plan.Runs)}
	}
	for k, r := range plan.Runs {
		shards[k%n].Runs = append(shards[k%n].Runs, r)
		if r.Summary != nil {
			writeRunDir(t, filepath.Join(dirs[k%n], r.ID), r.Summary)
		}
	}
	for i := range n {
		require.NoError(t, WriteAggregate(dirs[i], shards[i]))
	}
	return dirs
}

func writeRunDir(t *testing.T, dir string, s *Summary) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "viz"), 0o755))
	data, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, SummaryFile), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFile), []byte("<html>"+s.Command+"</html>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "viz", "lock-l0.html"), []byte("viz"), 0o644))
}

// aggregateOnDisk is what a consumer reads back from an aggregate
// directory, without the timestamps a merge recomputes.
type aggregateOnDisk struct {
	Runs       []AggregateRun `json:"runs"`
	Matrix     *Matrix        `json:"matrix"`
	Detections []Detection    `json:"detections"`
	PlanRuns   int            `json:"plan_runs"`
	Shard      *ShardInfo     `json:"shard"`
	Missing    []ShardInfo    `json:"missing_shards"`
}

func readOnDisk(t *testing.T, dir string) (aggregateOnDisk, []junitSuite) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, AggregateSummaryFile))
	require.NoError(t, err)
	var a aggregateOnDisk
	require.NoError(t, json.Unmarshal(data, &a))
	data, err = os.ReadFile(filepath.Join(dir, AggregateJUnitFile))
	require.NoError(t, err)
	var j junitSuites
	require.NoError(t, xml.Unmarshal(data, &j))
	return a, j.Suites
}

func TestMergeGivesTheUnshardedAggregate(t *testing.T) {
	t.Parallel()
	plan := planAggregate(14)
	whole := t.TempDir()
	require.NoError(t, WriteAggregate(whole, plan))
	want, wantSuites := readOnDisk(t, whole)

	for _, n := range []int{1, 3, 4} {
		t.Run(fmt.Sprintf("%d shards", n), func(t *testing.T) {
			dirs := writeShards(t, plan, n)
			// The order the shards are given in does not matter.
			dirs[0], dirs[n-1] = dirs[n-1], dirs[0]
			out := filepath.Join(t.TempDir(), "merged")
			merged, err := MergeDirs(out, dirs)
			require.NoError(t, err)
			require.Equal(t, plan.ExitCode(), merged.ExitCode())
			require.Equal(t, models.ExitViolation, merged.ExitCode())
			require.Nil(t, merged.Shard, "the merge is the whole plan")
			require.Empty(t, merged.MissingShards)
			require.Equal(t, plan.Started, merged.Started, "it started with its first shard")
			require.Equal(t, time.Duration(n-1)*time.Second+plan.Elapsed/time.Duration(n), merged.Elapsed, "and ended with its last")

			got, gotSuites := readOnDisk(t, out)
			require.Equal(t, want.Runs, got.Runs, "the same runs in plan order, with their summaries")
			for i, r := range got.Runs {
				require.Equal(t, plan.Runs[i].Verdict(), r.Verdict(), r.ID)
			}
			require.Equal(t, want.Matrix, got.Matrix)
			require.Equal(t, want.Detections, got.Detections)
			require.NotEmpty(t, got.Detections)
			require.Equal(t, 14, got.PlanRuns)
			require.Equal(t, wantSuites, gotSuites, "the same JUnit suites")

			// Every run report the index links to is inside the merge.
			html, err := os.ReadFile(filepath.Join(out, AggregateIndexFile))
			require.NoError(t, err)
			links := regexp.MustCompile(`href="([^"]+/index\.html)"`).FindAllStringSubmatch(string(html), -1)
			withSummary := 0
			for _, r := range plan.Runs {
				if r.Summary != nil {
					withSummary++
				}
			}
			require.Len(t, links, withSummary, "one link per run with a summary")
			for _, l := range links {
				require.FileExists(t, filepath.Join(out, l[1]))
			}
			require.FileExists(t, filepath.Join(out, "03-smoke-grpc-m3", "viz", "lock-l0.html"), "run directories are copied whole")
			require.NoDirExists(t, filepath.Join(out, "05-smoke-grpc-m3"), "a run that wrote nothing has no directory")
		})
	}
}

// A run without its place in the plan (plan_index) cannot be put back in
// order: the shard is refused.
func TestMergeRefusesRunsWithoutPlanPositions(t *testing.T) {
	t.Parallel()
	plan := planAggregate(7)
	plan.Runs[4].PlanIndex = 0
	dirs := writeShards(t, plan, 3)
	_, err := MergeDirs(filepath.Join(t.TempDir(), "merged"), []string{dirs[2], dirs[0], dirs[1]})
	var bad BadInputError
	require.ErrorAs(t, err, &bad)
	require.ErrorContains(t, err, "plan_index 0")
}

func TestMergeWithAMissingShardIsNeverOk(t *testing.T) {
	t.Parallel()
	plan := planAggregate(6)
	for i := range plan.Runs {
		plan.Runs[i].Summary, plan.Runs[i].Error, plan.Runs[i].Skipped = &Summary{Verdict: models.Ok, Scenario: "smoke"}, "", ""
	}
	require.Equal(t, models.ExitOk, plan.ExitCode())
	dirs := writeShards(t, plan, 3)
	out := filepath.Join(t.TempDir(), "merged")
	merged, err := MergeDirs(out, []string{dirs[0], dirs[2]})
	require.NoError(t, err, "a missing shard is reported, not refused")
	require.Equal(t, []ShardInfo{{Index: 2, Count: 3}}, merged.MissingShards)
	require.Len(t, merged.Runs, 4)
	require.Equal(t, models.ExitUnknown, merged.ExitCode(), "all present runs are ok, but the batch is incomplete")

	got, suites := readOnDisk(t, out)
	require.Equal(t, []ShardInfo{{Index: 2, Count: 3}}, got.Missing)
	last := suites[len(suites)-1]
	require.Equal(t, "etcdchaos.shard-2-of-3", last.Name)
	require.Equal(t, 1, last.Errors, "CI sees the missing shard as an error")
	html, err := os.ReadFile(filepath.Join(out, AggregateIndexFile))
	require.NoError(t, err)
	require.Contains(t, string(html), "shard 2/3 did not reach the merge")
	require.Contains(t, string(html), "v-unknown")

	// A violation in the shards present still wins.
	plan.Runs[0].Summary = &Summary{Verdict: models.Violation, ExitCode: models.ExitViolation}
	dirs = writeShards(t, plan, 3)
	merged, err = MergeDirs(filepath.Join(t.TempDir(), "merged"), dirs[:1])
	require.NoError(t, err)
	require.Equal(t, models.ExitViolation, merged.ExitCode())
	require.Equal(t, []ShardInfo{{Index: 2, Count: 3}, {Index: 3, Count: 3}}, merged.MissingShards)
}

func TestMergeRefusesBadInput(t *testing.T) {
	t.Parallel()
	plan := planAggregate(6)
	rewrite := func(t *testing.T, dir string, change func(a *Aggregate)) {
		t.Helper()
		s, err := ReadShard(dir)
		require.NoError(t, err)
		change(&s.Aggregate)
		require.NoError(t, WriteAggregate(dir, s.Aggregate))
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, dirs []string) []string
		want  []string // each in the message
	}{
		{"missing aggregate.json", func(t *testing.T, dirs []string) []string {
			require.NoError(t, os.Remove(filepath.Join(dirs[1], AggregateSummaryFile)))
			return dirs
		}, []string{"shard-2", "no aggregate.json"}},
		{"unreadable aggregate.json", func(t *testing.T, dirs []string) []string {
			require.NoError(t, os.WriteFile(filepath.Join(dirs[0], AggregateSummaryFile), []byte(`{"runs": [`), 0o644))
			return dirs
		}, []string{filepath.Join("shard-1", AggregateSummaryFile), "not an aggregate"}},
		{"not a shard", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[0], func(a *Aggregate) { a.Shard = nil })
			return dirs
		}, []string{"shard-1", `no "shard" field`}},
		{"same run in two shards", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.Runs[0].ID = "01-smoke-grpc-m3" })
			return dirs
		}, []string{"run 01-smoke-grpc-m3 is in two shards", "shard-1", "shard-2"}},
		{"different shard counts", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.Shard.Count = 4 })
			return dirs
		}, []string{"shard 2/4", "shard 1/2", "different plans"}},
		{"different plan sizes", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.PlanRuns = 7 })
			return dirs
		}, []string{"plan of 7 runs", "of 6", "different plans"}},
		{"different batches", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.Name = "zoo" })
			return dirs
		}, []string{`batch "zoo"`, `"nightly"`}},
		{"shard given twice", func(t *testing.T, dirs []string) []string {
			return []string{dirs[0], dirs[1], dirs[0]}
		}, []string{"shard 1/2 given twice"}},
		{"a run lost from a shard", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.Runs = a.Runs[1:] })
			return dirs
		}, []string{"the shards hold 5 runs, their plan 6"}},
		{"run directory lost", func(t *testing.T, dirs []string) []string {
			require.NoError(t, os.RemoveAll(filepath.Join(dirs[1], "02-smoke-grpc-m3")))
			return dirs
		}, []string{"run 02-smoke-grpc-m3 has a summary but no run directory"}},
		{"run id outside the directory", func(t *testing.T, dirs []string) []string {
			rewrite(t, dirs[1], func(a *Aggregate) { a.Runs[0].ID = "../02" })
			return dirs
		}, []string{`has id "../02"`}},
		{"no shards", func(t *testing.T, dirs []string) []string { return nil }, []string{"no shard directories"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dirs := c.setup(t, writeShards(t, plan, 2))
			out := filepath.Join(t.TempDir(), "merged")
			_, err := MergeDirs(out, dirs)
			require.Error(t, err)
			var bad BadInputError
			require.True(t, errors.As(err, &bad), "bad input (exit 2): %v", err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
			require.NoDirExists(t, out, "nothing is written when the input is refused")
		})
	}

	t.Run("out not empty", func(t *testing.T) {
		t.Parallel()
		dirs := writeShards(t, plan, 2)
		_, err := MergeDirs(dirs[0], dirs)
		var bad BadInputError
		require.True(t, errors.As(err, &bad), "%v", err)
		require.Contains(t, err.Error(), "exists and is not empty")
	})
}
