package reports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

// Every fault kind in history's table has a colour class known here and a
// colour of its own; a kind this version does not know is drawn neutral.
func TestEveryFaultKindHasItsOwnColour(t *testing.T) {
	owner := map[string]string{}
	for _, k := range history.FaultKinds() {
		require.NotEmpty(t, classShades[k.Class], "fault kind %s: class %d has no colours", k.Name, k.Class)
		c := faultColor(k.Name)
		require.NotEqual(t, neutralColor, c, k.Name)
		if other, taken := owner[c]; taken {
			t.Fatalf("fault kinds %s and %s share colour %s: give class %d another shade", other, k.Name, c, k.Class)
		}
		owner[c] = k.Name
	}
	assert.Equal(t, neutralColor, faultColor("restart-member"))
}

func TestFaultPaletteInOrderOfFirstAppearance(t *testing.T) {
	kinds, colors := faultPalette([]history.Fault{
		{Kind: history.KindRevokeLease}, {Kind: history.KindPartition}, {Kind: history.KindRevokeLease}, {Kind: "restart-member"},
	})
	assert.Equal(t, []string{history.KindRevokeLease, history.KindPartition, "restart-member"}, kinds)
	assert.Equal(t, map[string]string{history.KindRevokeLease: faultColor(history.KindRevokeLease),
		history.KindPartition: faultColor(history.KindPartition), "restart-member": neutralColor}, colors)
}
