package nightly

import (
	"slices"
	"strings"

	"github.com/coreos/go-semver/semver"

	"github.com/etcdchaos/etcdchaos/models/knownissues"
)

// NewestReleases are the newest patch releases of the maintained etcd
// lines that the Go module proxy served on 2026-12-04 (its version list is
// partial: each was tried by exact version). Lines before 3.5 do not build
// as a module (see `make etcd`).
var NewestReleases = []string{"v3.5.36", "v3.6.17", "v3.7.4"}

// DefaultReleases is the zoo's default release list: the newest patch of
// each maintained line, and for each registered fix on those lines the
// release that has it first and the one just before, sorted and without
// duplicates.
func DefaultReleases() []string {
	oldest := semver.Version{Major: 3, Minor: 5}
	set := map[string]semver.Version{}
	for _, r := range NewestReleases {
		v := semver.New(strings.TrimPrefix(r, "v"))
		set[r] = *v
	}
	for _, i := range knownissues.All() {
		for _, f := range i.Fixed {
			v, err := semver.NewVersion(strings.TrimPrefix(f, "v"))
			if err != nil || v.LessThan(oldest) {
				continue
			}
			set["v"+v.String()] = *v
			if v.Patch > 0 {
				before := semver.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch - 1}
				set["v"+before.String()] = before
			}
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b string) int {
		va, vb := set[a], set[b]
		return va.Compare(vb)
	})
	return out
}
