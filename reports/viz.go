package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/linear"
)

// vizDir is the run directory's subdirectory for visualizations.
const vizDir = "viz"

// vizPaths names the visualization of each check that has linearization
// info ("" for the others): viz/<check>-<name>.html, made safe for file
// systems and unique.
func vizPaths(checks []models.CheckResult) []string {
	paths := make([]string, len(checks))
	seen := map[string]bool{}
	for i, c := range checks {
		if c.Porcupine == nil || c.Porcupine.Info == nil {
			continue
		}
		base := safeName(c.Check) + "-" + safeName(c.Name)
		p := base
		for n := 2; seen[p]; n++ {
			p = fmt.Sprintf("%s-%d", base, n)
		}
		seen[p] = true
		paths[i] = vizDir + "/" + p + ".html"
	}
	return paths
}

// safeName keeps letters, digits, dash and underscore, replacing the rest
// (so no name can climb out of viz/), and bounds the length.
func safeName(s string) string {
	if s == "" {
		return "all"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}

// writeVisualizations writes one Porcupine visualization per check with
// linearization info. A visualization that cannot be produced is dropped
// from the summary (with a warning, unless the check simply has nothing to
// show); the report goes on without it.
func writeVisualizations(dir string, res models.Result, faults []history.Fault, s *Summary) error {
	paths := vizPaths(res.Checks)
	keep := map[string]bool{}
	for i, p := range paths {
		if p == "" {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dir, filepath.FromSlash(p)), func(f *os.File) error {
			return linear.WriteVisualization(f, res.Checks[i], faults)
		}); err != nil {
			s.Checks[i].Visualization = ""
			if errors.Is(err, linear.ErrNoVisualization) {
				continue
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("no visualization for %s %q: %v", res.Checks[i].Check, res.Checks[i].Name, err))
			continue
		}
		keep[filepath.Base(p)] = true
	}
	return removeStale(filepath.Join(dir, vizDir), keep)
}

// removeStale deletes visualizations left by an earlier report of the same
// run directory that the current result no longer has.
func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("list visualizations: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".html") && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove stale visualization: %w", err)
			}
		}
	}
	return nil
}
