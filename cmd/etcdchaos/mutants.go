package main

import (
	"fmt"
	"io"

	"github.com/etcdchaos/etcdchaos/workloads"
)

func init() {
	register("mutants", command{summary: "list the deliberately broken clients run --mutant can select", run: runMutants})
}

// runMutants prints each mutant with the kind of client it breaks, the
// check expected to catch it and the scenario that shows it.
func runMutants(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "etcdchaos mutants: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(stdout, "%-20s %-9s %-14s %-15s %s\n", "MUTANT", "KIND", "CAUGHT BY", "SCENARIO", "BUG")
	for _, m := range workloads.Mutants() {
		fmt.Fprintf(stdout, "%-20s %-9s %-14s %-15s %s\n", m.Name, m.Kind, m.Check, m.Scenario, m.Description)
	}
	fmt.Fprintln(stdout, "\nrun one with: etcdchaos run --mutant NAME (in its SCENARIO unless --scenario is given)")
	return 0
}
