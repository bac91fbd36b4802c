// Package links is the harness's link layer: the table of member-to-member
// links (cut, down, latency, bytes delivered), the peer proxy that enforces
// it on each member's peer traffic, the TCP proxy that gives a client or a
// front door a link of its own (cut, pause, delay), and the table that
// attributes forwarded lease keep-alives to their member.
//
// It knows nothing of clusters: members are numbers 1..n, and upstreams
// are functions returning the current address of a listener.
package links
