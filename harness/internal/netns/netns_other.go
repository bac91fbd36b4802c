//go:build !linux

package harness

import (
	"errors"
	"fmt"
	"os/exec"
)

// netnsNet is unavailable off Linux: newNetns always fails.
type netnsNet struct{}

func newNetns(int) (*netnsNet, error) {
	return nil, fmt.Errorf("network %s: %w", NetworkNetns, errors.New("needs Linux network namespaces"))
}

func (*netnsNet) addr(int) string                         { return "" }
func (*netnsNet) close() error                            { return nil }
func (*netnsNet) sync([][2]int) error                     { return nil }
func (*netnsNet) dialer(int) dialFunc                     { return nil }
func (*netnsNet) command(int, string, []string) *exec.Cmd { return nil }
