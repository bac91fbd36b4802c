package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EtcdBinEnv names the environment variable that FindEtcd consults first.
const EtcdBinEnv = "ETCDCHAOS_ETCD_BIN"

// FindEtcd locates the etcd binary for ModeProcess: $ETCDCHAOS_ETCD_BIN if
// set, else bin/etcd in the current directory or the nearest parent holding
// a go.mod (where `make etcd` puts it), else etcd on the PATH.
func FindEtcd() (string, error) {
	if p := os.Getenv(EtcdBinEnv); p != "" {
		return etcdBin(p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find etcd: %w", err)
	}
	for {
		cand := filepath.Join(dir, "bin", "etcd")
		if _, err := os.Stat(cand); err == nil {
			return etcdBin(cand)
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	return "", errors.New("find etcd: no etcd binary (run `make etcd`, or give one with --etcd-bin or $" + EtcdBinEnv + ")")
}

// etcdBin resolves bin (FindEtcd's choice if empty) to an executable path.
func etcdBin(bin string) (string, error) {
	if bin == "" {
		return FindEtcd()
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("etcd binary %s: %w", bin, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("etcd binary %s: %w", bin, err)
	}
	return abs, nil
}
