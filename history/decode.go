package history

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeEvent parses one event line. Lines in the recorder's own compact
// form take a fast path; anything else (whitespace, escapes, unknown
// fields, other key orders that fail the fast path) goes through
// encoding/json, so every valid JSON event is accepted either way.
func decodeEvent(line []byte, e *Event) error {
	if fastDecodeEvent(line, e) {
		return nil
	}
	*e = Event{}
	return json.Unmarshal(line, e)
}

// fastDecoder reads the compact JSON the recorder writes: objects of known
// keys with plain strings, integers, booleans and one nested value object.
type fastDecoder struct {
	b   []byte
	pos int
}

func fastDecodeEvent(line []byte, e *Event) bool {
	d := fastDecoder{b: line}
	ok := d.object(func(key []byte) bool { return d.eventField(key, e) })
	return ok && d.pos == len(d.b)
}

// object parses {"k":v,...}, calling field for each key with pos at the value.
func (d *fastDecoder) object(field func(key []byte) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.plainString()
		if !ok || !d.consume(':') || !field(key) {
			return false
		}
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

func (d *fastDecoder) eventField(key []byte, e *Event) bool {
	switch string(key) {
	case "type":
		return d.str(&e.Type)
	case "op":
		return d.int64(&e.Op)
	case "client":
		return d.int(&e.Client)
	case "f":
		return d.str(&e.F)
	case "name":
		return d.str(&e.Name)
	case "time":
		return d.int64(&e.Time)
	case "value":
		if e.Value == nil { // a repeated key merges, as encoding/json does
			e.Value = &Value{}
		}
		if d.pos < len(d.b) && d.b[d.pos] == '"' { // a server line's plain value
			return d.str(&e.Value.Value)
		}
		return d.object(func(k []byte) bool { return d.valueField(k, e.Value) })
	case "error":
		return d.str(&e.Error)
	case "fault":
		return d.str(&e.Fault)
	case "phase":
		return d.str(&e.Phase)
	case "detail":
		return d.str(&e.Detail)
	case "member":
		return d.int(&e.Member)
	case "target":
		return d.int(&e.Target)
	case "lease":
		return d.int64(&e.Lease)
	case "leader":
		return d.bool(&e.Leader)
	case "role":
		return d.str(&e.server().Role)
	case "event":
		return d.str(&e.server().Action)
	case "key":
		return d.str(&e.server().Key)
	case "rev":
		return d.int64(&e.server().Rev)
	case "create_rev":
		return d.int64(&e.server().CreateRev)
	case "from_rev":
		return d.int64(&e.server().FromRev)
	case "to_rev":
		return d.int64(&e.server().ToRev)
	}
	return false
}

func (d *fastDecoder) valueField(key []byte, v *Value) bool {
	switch string(key) {
	case "lease":
		return d.int64(&v.Lease)
	case "key":
		return d.str(&v.Key)
	case "rev":
		return d.int64(&v.Rev)
	case "fenced":
		var b bool
		if !d.bool(&b) {
			return false
		}
		v.Fenced = &b
		return true
	case "data":
		return d.str(&v.Data)
	case "value":
		return d.str(&v.Value)
	case "mod_rev":
		return d.int64(&v.ModRev)
	case "none":
		return d.bool(&v.None)
	case "last_alive":
		var n int64
		if !d.int64(&n) {
			return false
		}
		v.LastAlive = &n
		return true
	case "header_rev":
		return d.int64(&v.HeaderRev)
	case "ttl":
		var n int64
		if !d.int64(&n) {
			return false
		}
		v.TTL = &n
		return true
	case "granted_ttl":
		return d.int64(&v.GrantedTTL)
	case "keys":
		var n int64
		if !d.int64(&n) {
			return false
		}
		v.Keys = &n
		return true
	case "keys_from":
		return d.int64(&v.KeysFrom)
	}
	return false
}

func (d *fastDecoder) consume(c byte) bool {
	if d.pos < len(d.b) && d.b[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters.
func (d *fastDecoder) plainString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	end := bytes.IndexByte(d.b[d.pos:], '"')
	if end < 0 {
		return nil, false
	}
	s := d.b[d.pos : d.pos+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false // escapes and non-ASCII take the slow path
		}
	}
	d.pos += end + 1
	return s, true
}

func (d *fastDecoder) str(dst *string) bool {
	s, ok := d.plainString()
	if ok {
		*dst = string(s)
	}
	return ok
}

func (d *fastDecoder) int64(dst *int64) bool {
	start := d.pos
	if d.pos < len(d.b) && d.b[d.pos] == '-' {
		d.pos++
	}
	for d.pos < len(d.b) && d.b[d.pos] >= '0' && d.b[d.pos] <= '9' {
		d.pos++
	}
	digits := d.b[start:d.pos]
	if len(digits) == 0 || len(digits) > 1 && (digits[0] == '0' || digits[0] == '-' && digits[1] == '0') {
		return false // not a canonical integer: let encoding/json decide
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	*dst = n
	return err == nil
}

func (d *fastDecoder) int(dst *int) bool {
	var n int64
	if !d.int64(&n) {
		return false
	}
	*dst = int(n)
	return int64(*dst) == n
}

func (d *fastDecoder) bool(dst *bool) bool {
	switch {
	case bytes.HasPrefix(d.b[d.pos:], []byte("true")):
		*dst, d.pos = true, d.pos+4
	case bytes.HasPrefix(d.b[d.pos:], []byte("false")):
		*dst, d.pos = false, d.pos+5
	default:
		return false
	}
	return true
}
