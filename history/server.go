package history

import (
	"bytes"
	"encoding/json"
)

// ServerEvent is one server line: an event etcd applied to a key of a lock,
// an election or a critical section's data, as a watch reported it, or a
// gap in that record.
type ServerEvent struct {
	Time      int64  // when the observer received it; the event happened at or before
	Name      string // lock or election name
	Role      string // RoleLock, RoleElection or RoleData
	Event     string // ServerPut, ServerDelete or ServerGap
	Key       string
	Rev       int64 // put: the key's mod revision; delete: the delete's revision
	CreateRev int64 // the key's create revision (for a delete: the deleted key's)
	Lease     int64 // put: the key's lease
	Value     string
	FromRev   int64 // gap: events with revisions in (FromRev, ToRev] may be missing
	ToRev     int64
	Detail    string // gap: why (compacted, watch lost, ...)
}

// event is the line that records s (Time is stamped by the recorder).
func (s ServerEvent) event() Event {
	e := Event{Type: TypeServer, Name: s.Name, Lease: s.Lease, Detail: s.Detail, ServerFields: &ServerFields{
		Role: s.Role, Action: s.Event, Key: s.Key, Rev: s.Rev, CreateRev: s.CreateRev, FromRev: s.FromRev, ToRev: s.ToRev}}
	if s.Event == ServerPut {
		e.Value = &Value{Value: s.Value}
	}
	return e
}

// ServerEvents returns the history's server lines in file order.
func (h *History) ServerEvents() []ServerEvent {
	var out []ServerEvent
	for i := range h.Events {
		e := &h.Events[i]
		if e.Type != TypeServer || e.ServerFields == nil {
			continue
		}
		s := ServerEvent{Time: e.Time, Name: e.Name, Role: e.Role, Event: e.Action, Key: e.Key, Rev: e.Rev,
			CreateRev: e.CreateRev, Lease: e.Lease, FromRev: e.FromRev, ToRev: e.ToRev, Detail: e.Detail}
		if e.Value != nil {
			s.Value = e.Value.Value
		}
		out = append(out, s)
	}
	return out
}

// UnmarshalJSON reads a value object, or the plain string a server line
// carries as its key's value.
func (v *Value) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		*v = Value{}
		return json.Unmarshal(b, &v.Value)
	}
	type plain Value // without this method
	return json.Unmarshal(b, (*plain)(v))
}
