package harness

import "go.uber.org/goleak"

// goleakOptions lists goroutines that outlive a closed cluster on purpose.
func goleakOptions() []goleak.Option {
	return nil
}
