package history

// Renumber gives operations ids 1..n and clients ids 1..k (fault targets
// included) in order of appearance, so that a history cut down from a long
// run reads as if it had been recorded on its own.
func Renumber(h *History) {
	ops := map[int64]int64{}
	clients := map[int]int{}
	client := func(c int) int {
		if c == 0 {
			return 0
		}
		if n, ok := clients[c]; ok {
			return n
		}
		clients[c] = len(clients) + 1
		return clients[c]
	}
	for i := range h.Events {
		e := &h.Events[i]
		switch e.Type {
		case TypeInvoke:
			ops[e.Op] = int64(len(ops) + 1)
			e.Op, e.Client = ops[e.Op], client(e.Client)
		case TypeFault:
			e.Target = client(e.Target)
		default:
			e.Op = ops[e.Op]
		}
	}
}
