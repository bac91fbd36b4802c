package netns

// Fixed member ports inside a member's own network namespace.
const (
	PeerPort   = "2380"
	ClientPort = "2379"
)
