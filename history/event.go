// Package history defines the etcdchaos history format (JSON Lines, one event a
// line), a recorder that writes it as events happen and a reader that parses
// and validates it. See docs/history-format.md for the contract.
package history

// Format is the value of the header's "format" field.
const Format = "etcdchaos-history/1"

// Event types.
const (
	TypeHeader = "header"
	TypeInvoke = "invoke"
	TypeOk     = "ok"
	TypeFail   = "fail"
	TypeInfo   = "info"
	TypeFault  = "fault"
	// TypeServer is an event etcd applied to a watched key, or a gap in
	// that record (server truth, extension 1.1).
	TypeServer = "server"
)

// Server truth: what a server line records ("event") and which keys of a
// name it concerns ("role").
const (
	ServerPut    = "put"
	ServerDelete = "delete"
	ServerGap    = "gap"

	RoleLock     = "lock"     // keys of a lock's queue
	RoleElection = "election" // keys of an election's queue
	RoleData     = "data"     // keys written by a lock's critical section
)

// Operation functions (the "f" field).
const (
	FLock      = "lock"
	FUnlock    = "unlock"
	FWrite     = "write"
	FCampaign  = "campaign"
	FProclaim  = "proclaim"
	FResign    = "resign"
	FLeader    = "leader"
	FObserve   = "observe"
	FLeaseLost = "lease-lost"
	// FRevoke records a client revoking its own lease (best effort, e.g.
	// after an indeterminate lock or campaign). An extension of format v1.
	FRevoke = "revoke"
	// FKeepAlive is one keep-alive request of a client's lease, and
	// FLeaseTTL one TimeToLive answer about it (extensions of format v1).
	// They concern a lease, not a name: their invokes carry no name.
	FKeepAlive = "keepalive"
	FLeaseTTL  = "lease-ttl"
	// FAttach is a client putting its lease's extra keys, right after the
	// grant (an extension of format v1): ok once every one is put.
	FAttach = "attach"
	// FProbe is the run's liveness probe after healing: one operation per
	// lock or election name, by ProbeClient, ok when the name was acquired
	// and released within the run's bound, fail when it was not (the
	// error says why), info when the run was interrupted first.
	FProbe = "probe"
)

// KeeperBase is added to a client's id to make the history client id of
// its lease keeper, the loop that sends the client's keep-alives beside the
// client's own operations (each history client has at most one operation in
// flight, and a keep-alive is due while the client waits for a lock).
const KeeperBase = 100000

// LeaseKeeper is the history client id of client's lease keeper.
func LeaseKeeper(client int) int { return KeeperBase + client }

// ProbeClient is the history client id of the liveness probe (FProbe).
const ProbeClient = 2 * KeeperBase

// Fault phases.
const (
	PhaseStart = "start"
	PhaseEnd   = "end"
)

// Header is the first line of a history.
type Header struct {
	Type        string `json:"type"`
	Format      string `json:"format"`
	Scenario    string `json:"scenario"`
	Seed        int64  `json:"seed"`
	LeaseTTLMs  int64  `json:"lease_ttl_ms"`
	StartUnixNs int64  `json:"start_unix_ns"`
	Members     int    `json:"members"`
	EtcdVersion string `json:"etcd_version"`

	// Extensions (optional, documented in docs/history-format.md).
	Workload string `json:"workload,omitempty"` // lock, election or mixed
	Backend  string `json:"backend,omitempty"`  // grpc or concurrency
	Mutant   string `json:"mutant,omitempty"`   // name of a deliberately broken client, if any
	Fixes    []int  `json:"fixes,omitempty"`    // etcd issues whose client-side fix the clients applied
	Clients  int    `json:"clients,omitempty"`
	Command  string `json:"command,omitempty"` // command line that reproduces the run
	// ClientVersion is the etcd client library the recording binary was
	// built with: the concurrency backend runs its concurrency package.
	ClientVersion string `json:"client_version,omitempty"`
	// ServerTruth says the history records every event etcd applied to the
	// workloads' keys (server lines, extension 1.1).
	ServerTruth bool `json:"server_truth,omitempty"`
	// ElectionTimeoutMs is the members' election timeout (0: not known,
	// as for an existing cluster; etcd's default is 1000).
	ElectionTimeoutMs int64 `json:"election_timeout_ms,omitempty"`
	// EveryEndpoint says the workload clients had every member as an
	// endpoint: their operations name no member.
	EveryEndpoint bool `json:"every_endpoint,omitempty"`
}

// Value is the union of every operation's invoke and completion values.
// Fields that do not apply to an operation are omitted from the JSON.
type Value struct {
	Lease     int64  `json:"lease,omitempty"`
	Key       string `json:"key,omitempty"`
	Rev       int64  `json:"rev,omitempty"`
	Fenced    *bool  `json:"fenced,omitempty"`
	Data      string `json:"data,omitempty"`
	Value     string `json:"value,omitempty"`
	ModRev    int64  `json:"mod_rev,omitempty"`
	None      bool   `json:"none,omitempty"`
	LastAlive *int64 `json:"last_alive,omitempty"`
	// HeaderRev is the revision of the response header of a completion,
	// where the API returns one (extension 1.1).
	HeaderRev int64 `json:"header_rev,omitempty"`
	// TTL is the TTL in seconds etcd answered for a lease: a keep-alive's
	// or a TimeToLive's (-1: not found). A pointer, since 0 is an answer.
	TTL *int64 `json:"ttl,omitempty"`
	// GrantedTTL is the TTL in seconds the lease was granted with: a
	// TimeToLive's answer, or on a keep-alive's invoke the grant's.
	GrantedTTL int64 `json:"granted_ttl,omitempty"`
	// Keys counts a lease's extra keys (workloads.Config.LeaseKeys): on an
	// attach invoke, how many the client puts with the lease; on a
	// lease-ttl answer, how many of them the answer listed. A pointer,
	// since 0 is an answer.
	Keys *int64 `json:"keys,omitempty"`
	// KeysFrom is the lowest index among the extra keys a lease-ttl answer
	// listed. The keys are named by their index, zero-padded, so etcd's
	// sorted key order is index order.
	KeysFrom int64 `json:"keys_from,omitempty"`
}

// IsFenced reports whether a write value is fenced.
func (v *Value) IsFenced() bool { return v != nil && v.Fenced != nil && *v.Fenced }

// Event is one line of a history after the header.
type Event struct {
	Type   string `json:"type"`
	Op     int64  `json:"op,omitempty"`
	Client int    `json:"client,omitempty"`
	F      string `json:"f,omitempty"`
	Name   string `json:"name,omitempty"`
	Time   int64  `json:"time"`
	Value  *Value `json:"value,omitempty"`
	Error  string `json:"error,omitempty"`

	// Fault events.
	Fault  string `json:"fault,omitempty"`
	Phase  string `json:"phase,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Member is the member a fault targets (extension), or the member the
	// client of an invoke talks to (extension).
	Member int `json:"member,omitempty"`
	// Target is the client a client or lease fault targets (extension).
	Target int `json:"target,omitempty"`
	// Lease is the lease a lease fault targets (extension), or the lease of
	// the key a server put wrote.
	Lease int64 `json:"lease,omitempty"`
	// Leader says the member a fault targets was the cluster's leader when
	// the fault started (extension).
	Leader bool `json:"leader,omitempty"`

	// Server lines (extension 1.1): nil on every other line, so that the
	// operations, which are most lines, stay small. Name is the lock or
	// election name; the key's value is in Value.Value (written as a plain
	// string).
	*ServerFields
}

// ServerFields are the fields only a server line has.
type ServerFields struct {
	Role      string `json:"role,omitempty"`
	Action    string `json:"event,omitempty"` // put, delete or gap
	Key       string `json:"key,omitempty"`
	Rev       int64  `json:"rev,omitempty"`
	CreateRev int64  `json:"create_rev,omitempty"`
	FromRev   int64  `json:"from_rev,omitempty"` // gap: events in (FromRev, ToRev] may be missing
	ToRev     int64  `json:"to_rev,omitempty"`
}

// server returns e's server fields, making them if e has none yet.
func (e *Event) server() *ServerFields {
	if e.ServerFields == nil {
		e.ServerFields = &ServerFields{}
	}
	return e.ServerFields
}

// Bool returns a pointer to b, for Value.Fenced.
func Bool(b bool) *bool { return &b }

// Int64 returns a pointer to n, for Value.LastAlive and Value.TTL.
func Int64(n int64) *int64 { return &n }
