package procmember

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/etcdchaos/etcdchaos/harness/internal/member"
)

// LeaseCheckpointFlags are the flags that turn on lease checkpoints and
// their persistence in etcd release version ("3.5.22"): 3.5 knows them as
// experimental flags, 3.6 and later as feature gates (3.7 dropped the
// experimental flags, and refuses them).
func LeaseCheckpointFlags(version string) ([]string, error) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("lease checkpoints: etcd version %q", version)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major != 3 {
		return nil, fmt.Errorf("lease checkpoints: etcd version %q", version)
	}
	if minor < 6 {
		return []string{"--experimental-enable-lease-checkpoint=true", "--experimental-enable-lease-checkpoint-persist=true"}, nil
	}
	return []string{"--feature-gates=" + member.LeaseCheckpointGates}, nil
}

// version runs the binary with --version and reads its release ("etcd
// Version: 3.5.22").
func (r *Runner) version() (string, error) {
	out, err := exec.Command(r.Bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", r.Bin, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s --version: no etcd version in %q", r.Bin, out)
}

// extraFlags are the flags spec asks for beyond the ones every member gets.
func (r *Runner) extraFlags(spec *member.Spec) ([]string, error) {
	if !spec.LeaseCheckpoint {
		return nil, nil
	}
	r.versionOnce.Do(func() { r.binVersion, r.versionErr = r.version() })
	if r.versionErr != nil {
		return nil, r.versionErr
	}
	return LeaseCheckpointFlags(r.binVersion)
}
