package history

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryFaultKindSaysAllItsFacts(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range FaultKinds() {
		require.NoError(t, k.Validate())
		require.False(t, seen[k.Name], "%s is declared twice", k.Name)
		seen[k.Name] = true
		require.True(t, k.Known(), k.Name)
		require.Equal(t, k, FaultKindOf(k.Name))
	}
	require.NotEmpty(t, seen)
}

func TestFaultKindValidateRefusesMissingFacts(t *testing.T) {
	good := FaultKind{Name: "x", Target: TargetMember, Explains: ExplainsNothing, Class: ClassMember}
	require.NoError(t, good.Validate())
	for name, mutate := range map[string]func(*FaultKind){
		"no name":              func(k *FaultKind) { k.Name = "" },
		"no target":            func(k *FaultKind) { k.Target = 0 },
		"no class":             func(k *FaultKind) { k.Class = 0 },
		"neutral class":        func(k *FaultKind) { k.Class = ClassNeutral },
		"no meaning":           func(k *FaultKind) { k.Explains = 0 },
		"nothing and more":     func(k *FaultKind) { k.Explains = ExplainsNothing | ExplainsLeaseDeath },
		"meaning out of range": func(k *FaultKind) { k.Explains = ExplainsClusterFault << 1 },
	} {
		k := good
		mutate(&k)
		assert.Error(t, k.Validate(), name)
	}
}

// The checkers' meanings of each kind, as they were before the table
// existed: lease deaths from revoke-lease, expire-lease and pause-client; a
// lapse of the client aimed at from those and isolate-client; a lapse of
// anyone from partition, kill-member and pause-member, and from
// hang-client-port and stall-disk (added later: a hung port stalls the
// keep-alives of whoever sends through it, a member waiting on its disk
// renews no lease); a lapse of the waiter it cuts off from
// compact-behind-waiter; nothing from latency and move-leader.
func TestFaultKindMeaningsForTheCheckers(t *testing.T) {
	with := func(m Explains) []string {
		var names []string
		for _, k := range FaultKinds() {
			if k.Explains.Has(m) {
				names = append(names, k.Name)
			}
		}
		return names
	}
	assert.ElementsMatch(t, []string{"revoke-lease", "expire-lease", "pause-client"}, with(ExplainsLeaseDeath))
	assert.ElementsMatch(t, []string{"revoke-lease", "expire-lease", "pause-client", "isolate-client", "compact-behind-waiter"}, with(ExplainsClientStall))
	assert.ElementsMatch(t, []string{"partition", "kill-member", "pause-member", "hang-client-port", "stall-disk"}, with(ExplainsClusterFault))
	assert.Subset(t, with(ExplainsNothing), []string{"latency", "move-leader"})
}

func TestUnknownFaultKindIsANeutralIntervalThatExplainsNothing(t *testing.T) {
	k := FaultKindOf("restart-member")
	assert.False(t, k.Known())
	assert.Equal(t, FaultKind{Name: "restart-member", Explains: ExplainsNothing, Class: ClassNeutral}, k)
}

func TestFaultsOfOneShotAndUnknownKindsWithoutAnEnd(t *testing.T) {
	h, err := Read(strings.NewReader(lines(goodHeader,
		`{"type":"fault","fault":"revoke-lease","phase":"start","time":10,"target":1,"lease":5}`,
		`{"type":"fault","fault":"restart-member","phase":"start","time":20,"member":2}`,
		`{"type":"fault","fault":"partition","phase":"start","time":30}`,
		`{"type":"fault","fault":"partition","phase":"end","time":40}`,
	)), "h")
	require.NoError(t, err)
	assert.Equal(t, []Fault{
		{Kind: "revoke-lease", Target: 1, Lease: 5, Start: 10, End: 10},
		{Kind: "restart-member", Member: 2, Start: 20, End: Never},
		{Kind: "partition", Start: 30, End: 40, Ended: true},
	}, h.Faults())
}
