package linear

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// VisualizeLimit is the most operations a visualization shows; a larger
// check is cut to a window around the violation (or its start).
const VisualizeLimit = 5000

// visualizeTimeout bounds the porcupine run a visualization may need.
const visualizeTimeout = 30 * time.Second

// ErrNoVisualization is returned for a check that has nothing to show (no
// porcupine model, e.g. observe, or an empty check).
var ErrNoVisualization = errors.New("check has no porcupine visualization")

// WriteVisualization writes porcupine's HTML visualization of a check, with
// the faults as annotations on their own row ("faults"), the violation (if
// any) on a "violation" row, and a "note" when only a window of a large
// check is shown.
func WriteVisualization(w io.Writer, c models.CheckResult, faults []history.Fault) error {
	run := c.Porcupine
	if run == nil || run.Model.Step == nil || len(run.Ops) == 0 {
		return fmt.Errorf("%s %s: %w", c.Check, c.Name, ErrNoVisualization)
	}
	ops, note := run.Ops, ""
	if len(ops) > VisualizeLimit {
		ops, note = window(ops, c.At)
	}
	var info porcupine.LinearizationInfo
	if run.Info != nil && note == "" {
		info = *run.Info // a copy: annotations are added to it
	} else {
		_, info = porcupine.CheckOperationsVerbose(run.Model, ops, visualizeTimeout)
	}
	first, last := span(ops)
	var anns []porcupine.Annotation
	for _, f := range faults {
		if f.Start > last || f.End < first {
			continue
		}
		end := f.End
		if end == history.Never {
			end = last
		}
		anns = append(anns, porcupine.Annotation{Tag: "faults", Start: f.Start, End: end,
			Description: f.Kind, Details: faultDetails(f), BackgroundColor: "#f4d7a1"})
	}
	if c.Verdict == models.Violation || c.Verdict == models.UnsafeWithoutFencing {
		anns = append(anns, porcupine.Annotation{Tag: "violation", Start: c.At, Description: string(c.Verdict),
			Details: c.Account, BackgroundColor: "#f4a1a1"})
	}
	if note != "" {
		anns = append(anns, porcupine.Annotation{Tag: "note", Start: first, Description: "window", Details: note})
	}
	info.AddAnnotations(anns)
	if err := porcupine.Visualize(run.Model, info, w); err != nil {
		return fmt.Errorf("visualize %s %s: %w", c.Check, c.Name, err)
	}
	return nil
}

func faultDetails(f history.Fault) string {
	s := fmt.Sprintf("%s from %s to %s", f.Kind, secs(f.Start), secs(f.End))
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	return s
}

// window picks VisualizeLimit operations around time at (by invoke order),
// or the first ones when at is 0, and says so.
func window(ops []porcupine.Operation, at int64) ([]porcupine.Operation, string) {
	sorted := append([]porcupine.Operation(nil), ops...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	lo := 0
	if at != 0 {
		i := sort.Search(len(sorted), func(i int) bool { return sorted[i].Call > at })
		lo = max(0, min(i-VisualizeLimit/2, len(sorted)-VisualizeLimit))
	}
	hi := lo + VisualizeLimit
	note := fmt.Sprintf("showing operations %d to %d of %d (by invoke time); the linearization shown is of this window alone, "+
		"which starts from an empty state", lo+1, hi, len(sorted))
	return sorted[lo:hi], note
}

// span returns the first and last finite times of ops.
func span(ops []porcupine.Operation) (int64, int64) {
	first, last := int64(history.Never), int64(0)
	for _, o := range ops {
		first = min(first, o.Call)
		last = max(last, o.Call)
		if o.Return != history.Never {
			last = max(last, o.Return)
		}
	}
	return first, last
}
