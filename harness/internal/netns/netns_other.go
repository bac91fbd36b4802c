//go:build !linux

package netns

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
)

// Net is unavailable off Linux: New always fails.
type Net struct{}

func New(int) (*Net, error) {
	return nil, fmt.Errorf("network netns: %w", errors.New("needs Linux network namespaces"))
}

// Probe always fails off Linux.
func Probe(string) error { return errors.New("needs Linux network namespaces") }

func (*Net) Prefix() string                          { return "" }
func (*Net) Addr(int) string                         { return "" }
func (*Net) Close() error                            { return nil }
func (*Net) Sync([][2]int) error                     { return nil }
func (*Net) Dialer(int) links.DialFunc               { return nil }
func (*Net) Command(int, string, []string) *exec.Cmd { return nil }
