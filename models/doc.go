// Package models is the vocabulary of etcdchaos's verdicts: what a check
// says about a history (CheckResult, Finding), how findings are classified
// (a violation, a known etcd issue, etcd's documented hazard) and what a
// whole history gets (Result, Verdict, exit codes).
//
// The checking itself is three layers, each in its own package, and data
// flows one way through them:
//
//  1. Checks judge the operations as recorded, each on its own and none
//     seeing another's output:
//     - linear: porcupine models of a lock and an election per name
//     (lock, fenced-writes, unfenced-writes, election, observe);
//     - truth: every client claim against etcd's own record (server
//     truth, history format extension 1.1);
//     - lease: etcd's lease answers against its lease contract;
//     - liveness: waiters that never woke, and the run's after-healing
//     probe, both from the history.
//     Server truth may settle an operation of unknown outcome (truth.Settle)
//     before the porcupine models see it; it never turns a definite answer
//     into an unknown.
//  2. Classification (verdict) is the last layer, over every finding of
//     every check: a finding is a known etcd issue only when the registry
//     (knownissues) shows that mechanism in the same operations;
//     an unfenced write is etcd's documented hazard only when the hazard
//     package explains that write; everything else is a violation. A
//     porcupine violation is explained only when withdrawing exactly the
//     explained operations makes the rest linearizable.
//  3. The verdict (verdict.Combine) folds the classified checks in a fixed
//     order: violation > unknown > known issue and hazard > ok > empty.
//
// verdict.Check runs all three; the runner, `etcdchaos check`, the reports
// and the batch commands all go through it.
package models
