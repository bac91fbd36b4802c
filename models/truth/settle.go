package truth

import (
	"github.com/etcdchaos/etcdchaos/history"
)

// Settle decides, from the record, what no client could record: a lock or
// campaign of unknown outcome created a key with its lease that the server
// deleted (its lease expired or was revoked) by the time the observer saw
// the delete. To the porcupine models each such key is released for
// certain between the grant's invoke and that moment, so that a grant
// whose client never learned its fate does not seem to hold forever. The
// releases have no op id: nothing cites them as a client's operation, and
// classification never withdraws them. Without a record there is nothing to
// settle.
//
// This only decides an unknown, as etcd's robustness suite settles an
// ambiguous put from its watch; it never turns a definite client answer
// into another.
func Settle(rec *Record, ops []history.Operation) []history.Operation {
	if rec == nil {
		return nil
	}
	var out []history.Operation
	for i := range ops {
		op := &ops[i]
		release, ok := releaseOf[op.F]
		if !ok || !op.Outcome.Unknown() || op.Input.Lease == 0 {
			continue
		}
		k := rec.Queue(op.Name).CreatedBy(op)
		if k == nil || k.Deleted == Inf {
			continue
		}
		out = append(out, history.Operation{Client: op.Client, F: release, Name: op.Name, Member: op.Member,
			Call: op.Call, Return: k.DeletedAt, Completed: k.DeletedAt, Outcome: history.Ok,
			Input: history.Value{Key: k.Key, Rev: k.Create, Lease: k.Lease}})
	}
	return out
}

// releaseOf is the release of the key each kind of grant makes.
var releaseOf = map[string]string{history.FLock: history.FUnlock, history.FCampaign: history.FResign}
