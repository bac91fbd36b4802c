package nightly

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The default zoo is the newest patch of each maintained line and the
// releases on both sides of each registered fix on those lines: 15247's
// (3.5.13) and 17506's (3.5.14); 3.4's fixes are left out, since 3.4 does
// not build as a module.
func TestDefaultReleases(t *testing.T) {
	assert.Equal(t, []string{"v3.5.12", "v3.5.13", "v3.5.14", "v3.5.36", "v3.6.17", "v3.7.4"}, DefaultReleases())
}
