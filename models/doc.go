// Package models checks etcdchaos histories against sequential models of
// etcd's locks and elections, with porcupine.
//
// Check splits a history by lock or election name (lease deaths are
// broadcast to every name that uses the lease) and runs, per name, the
// checks of its family (family.go: a lock or an election, one value that
// holds its model, its account and its shrink hooks):
//
//   - lock (lock.go): mutual exclusion of the lock keys, grants in create
//     revision order, no grant to a lease that is gone;
//   - fenced-writes: the lock model plus guarded writes, which must be made
//     by the owner and land in revision order;
//   - unfenced-writes: the lock model plus plain writes, which must be made
//     by the owner; when they are not, but the lock and fenced checks are ok
//     and a loss of the writer's lease, a lease fault or pause aimed at the
//     writer, or a partition or kill before it can explain it, the finding is
//     unsafe-without-fencing (etcd's documented hazard), not a violation;
//   - election (election.go): one leader at a time, proclamations only by the
//     leader, leader reads never stale;
//   - observe (observe.go): each Observe stream's deliveries in (create
//     revision, mod_rev) order and each produced by a campaign or proclaim.
//
// Operations whose outcome is unknown (info, or never completed) return at
// +infinity and may or may not take effect; porcupine tries every placement.
// Each porcupine check is bounded by Options.Timeout: a check that runs out
// of time is Unknown, and a check with nothing to look at is Empty, never Ok.
// A violation comes with a plain-language account built from porcupine's
// longest partial linearization (account.go, trace.go): the model's step
// function says why it refuses an operation, and the family's account puts
// that reason in words.
package models
