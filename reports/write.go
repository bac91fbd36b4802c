// Package reports turns a history and its verdict into the files of a run
// directory: index.html (the report people read, with plots drawn as inline
// SVG), viz/<check>-<name>.html (Porcupine visualizations), junit.xml and
// summary.json. Everything is self-contained and works offline: templates,
// CSS and the little JavaScript (legend toggles) are embedded, nothing is
// fetched when a report is opened.
//
// junit.xml has one test case per check and name (classname = check, name =
// lock or election name). A check that fails the run, and any violation or
// unknown, is a <failure> whose message is the plain-language account. An
// unsafe-without-fencing finding that does not fail the run (no --strict)
// passes, with the account in <system-out>: the check ran and found etcd's
// documented hazard. A check with nothing to check (empty) is <skipped>.
package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// File names inside a run directory.
const (
	// HistoryFile is the run's history, which the report links to.
	HistoryFile = "history.jsonl"
	IndexFile   = "index.html"
	JUnitFile   = "junit.xml"
	SummaryFile = "summary.json"
)

// Write writes the report of a run into dir: index.html, one Porcupine
// visualization per check with linearization info under viz/, junit.xml and
// summary.json. Files are replaced atomically; visualizations of an earlier
// report that the result no longer has are removed.
func Write(dir string, h *history.History, res models.Result, meta Meta) error {
	if h == nil {
		return fmt.Errorf("write report: no history")
	}
	if err := os.MkdirAll(filepath.Join(dir, vizDir), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	s := BuildSummary(h, res, meta)
	faults := h.Faults()
	if err := writeVisualizations(dir, res, faults, &s); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, JUnitFile), func(f *os.File) error {
		return writeJUnit(f, s)
	}); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, SummaryFile), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, IndexFile), func(f *os.File) error {
		return writeIndex(f, h, s)
	}); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeFileAtomic writes path through a buffered temporary file in the same
// directory and renames it into place, so a reader never sees half a file.
func writeFileAtomic(path string, write func(f *os.File) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// bufferedWriter wraps f for writers that make many small writes.
func bufferedWriter(f *os.File) *bufio.Writer { return bufio.NewWriterSize(f, 256<<10) }
