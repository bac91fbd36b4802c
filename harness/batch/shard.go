package batch

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard names one of Count slices of a plan, Index from 1 to Count. Run k
// of the plan (k from 0, in plan order) goes to shard k mod Count + 1:
// round robin, so that every shard gets a like share of every part of the
// plan (the nightly's scenarios, the zoo's releases) and shards end at
// about the same time. The zero Shard is the whole plan.
type Shard struct {
	Index, Count int
}

// ParseShard parses "I/N" with 1 <= I <= N.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 1 || index > count {
		return Shard{}, fmt.Errorf("%q: expected I/N, shard I of N with 1 <= I <= N (e.g. 2/3)", s)
	}
	return Shard{Index: index, Count: count}, nil
}

// IsWhole reports whether the shard is the whole plan.
func (s Shard) IsWhole() bool { return s.Count == 0 }

// String is "I/N", empty for the whole plan.
func (s Shard) String() string {
	if s.IsWhole() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Shard returns the runs of p that fall to shard s, in p's order. Shards
// are taken of a whole plan only; the zero Shard returns p itself.
func (p Plan) Shard(s Shard) Plan {
	if s.IsWhole() {
		return p
	}
	out := Plan{Slice: s, Total: p.total()}
	for k, r := range p.Runs {
		if k%s.Count == s.Index-1 {
			out.Runs = append(out.Runs, r)
			out.positions = append(out.positions, k+1)
		}
	}
	return out
}
