package history

import (
	"strconv"
	"unicode/utf8"
)

// appendEvent appends e as one JSON line (with the trailing newline). It is a
// hand-written encoder: the recorder is on the workloads' hot path and
// encoding/json would cost more than the operations it records.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	if e.Op != 0 {
		b = appendIntField(b, "op", e.Op)
	}
	if e.Client != 0 {
		b = appendIntField(b, "client", int64(e.Client))
	}
	b = appendStringField(b, "f", e.F)
	b = appendStringField(b, "name", e.Name)
	b = appendIntField(b, "time", e.Time)
	switch {
	case e.Type == TypeServer && e.Value != nil:
		b = append(b, `,"value":`...)
		b = appendString(b, e.Value.Value)
	case e.Value != nil:
		b = append(b, `,"value":`...)
		b = appendValue(b, e.Value)
	}
	b = appendStringField(b, "error", e.Error)
	b = appendStringField(b, "fault", e.Fault)
	b = appendStringField(b, "phase", e.Phase)
	b = appendStringField(b, "detail", e.Detail)
	if e.Member != 0 {
		b = appendIntField(b, "member", int64(e.Member))
	}
	if e.Target != 0 {
		b = appendIntField(b, "target", int64(e.Target))
	}
	if e.Lease != 0 {
		b = appendIntField(b, "lease", e.Lease)
	}
	if e.Leader {
		b = append(b, `,"leader":true`...)
	}
	if e.ServerFields != nil {
		b = appendServerFields(b, e.ServerFields)
	}
	return append(b, "}\n"...)
}

// appendServerFields appends a server line's own fields.
func appendServerFields(b []byte, e *ServerFields) []byte {
	b = appendStringField(b, "role", e.Role)
	b = appendStringField(b, "event", e.Action)
	b = appendStringField(b, "key", e.Key)
	for _, f := range [...]struct {
		name string
		n    int64
	}{{"rev", e.Rev}, {"create_rev", e.CreateRev}, {"from_rev", e.FromRev}, {"to_rev", e.ToRev}} {
		if f.n != 0 {
			b = appendIntField(b, f.name, f.n)
		}
	}
	return b
}

func appendValue(b []byte, v *Value) []byte {
	start := len(b)
	b = append(b, '{')
	field := func(name string) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
	}
	if v.Lease != 0 {
		field("lease")
		b = strconv.AppendInt(b, v.Lease, 10)
	}
	if v.Key != "" {
		field("key")
		b = appendString(b, v.Key)
	}
	if v.Rev != 0 {
		field("rev")
		b = strconv.AppendInt(b, v.Rev, 10)
	}
	if v.Fenced != nil {
		field("fenced")
		b = strconv.AppendBool(b, *v.Fenced)
	}
	if v.Data != "" {
		field("data")
		b = appendString(b, v.Data)
	}
	if v.Value != "" {
		field("value")
		b = appendString(b, v.Value)
	}
	if v.ModRev != 0 {
		field("mod_rev")
		b = strconv.AppendInt(b, v.ModRev, 10)
	}
	if v.None {
		field("none")
		b = append(b, "true"...)
	}
	if v.LastAlive != nil {
		field("last_alive")
		b = strconv.AppendInt(b, *v.LastAlive, 10)
	}
	if v.HeaderRev != 0 {
		field("header_rev")
		b = strconv.AppendInt(b, v.HeaderRev, 10)
	}
	if v.TTL != nil {
		field("ttl")
		b = strconv.AppendInt(b, *v.TTL, 10)
	}
	if v.GrantedTTL != 0 {
		field("granted_ttl")
		b = strconv.AppendInt(b, v.GrantedTTL, 10)
	}
	if v.Keys != nil {
		field("keys")
		b = strconv.AppendInt(b, *v.Keys, 10)
	}
	if v.KeysFrom != 0 {
		field("keys_from")
		b = strconv.AppendInt(b, v.KeysFrom, 10)
	}
	return append(b, '}')
}

func appendIntField(b []byte, name string, n int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

func appendStringField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
