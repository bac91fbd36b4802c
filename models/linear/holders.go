package linear

import (
	"strconv"
	"strings"
)

// leaseFromKey returns the lease encoded in a lock or election key. etcd's
// lock and election (v3lock, v3election and clientv3/concurrency) name their
// keys "<prefix>/<lease id in lowercase hex>", so the key alone tells which
// lease owns it. ok is false for keys of any other shape.
func leaseFromKey(key string) (lease int64, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || i == len(key)-1 {
		return 0, false
	}
	n, err := strconv.ParseInt(key[i+1:], 16, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// deadSet is an immutable set of small holder indexes (the leases known to
// be gone). Sets are shared between model states and never modified; with
// returns a new set. A nil *deadSet is the empty set.
type deadSet struct {
	words []uint64
	hash  uint64
}

func (d *deadSet) has(i int32) bool {
	if d == nil || i <= 0 {
		return false
	}
	w := int(i) >> 6
	return w < len(d.words) && d.words[w]&(1<<(uint(i)&63)) != 0
}

// with returns the set plus i.
func (d *deadSet) with(i int32) *deadSet {
	if i <= 0 || d.has(i) {
		return d
	}
	n := int(i)>>6 + 1
	var old []uint64
	var h uint64
	if d != nil {
		old, h = d.words, d.hash
	}
	words := make([]uint64, max(n, len(old)))
	copy(words, old)
	words[int(i)>>6] |= 1 << (uint(i) & 63)
	return &deadSet{words: words, hash: h ^ mix64(uint64(i))}
}

func (d *deadSet) hashValue() uint64 {
	if d == nil {
		return 0
	}
	return d.hash
}

func (d *deadSet) count() int {
	if d == nil {
		return 0
	}
	n := 0
	for _, w := range d.words {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

func (d *deadSet) equal(o *deadSet) bool {
	if d == o {
		return true
	}
	if d.hashValue() != o.hashValue() {
		return false
	}
	var a, b []uint64
	if d != nil {
		a = d.words
	}
	if o != nil {
		b = o.words
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return false
		}
	}
	return true
}

// mix64 is splitmix64's finalizer, used to hash model states.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
