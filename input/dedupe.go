package input

import (
	"math"
	"math/bits"
)

// Set layout. Ten million URLs must fit in about 100 MB, so each key costs
// one uint64 slot and tables run full: a table grows when it reaches 90% load,
// by only 20%, which keeps every table between 75% and 90% full. Growth
// happens one small shard at a time, so there is never a doubling spike, and
// shards start at sizes spread over one growth step so they do not all grow
// at the same moment: the set's overall load stays near its average (about
// 9.75 bytes per key) instead of swinging with each step.
const (
	setShardBits = 8
	setShards    = 1 << setShardBits
	setMinCap    = 32
	setMaxLoad   = 0.9
	setGrowth    = 1.2
)

// HashSet is a set of 64-bit hashes using about 10 bytes per member. It stores
// no keys, only their hashes, so two keys whose hashes collide count as one
// (with 10 million members the chance of any collision is about 3 in a
// million). It is not safe for concurrent use.
type HashSet struct {
	shards [setShards]setShard
	n      int
}

// setShard is an open-addressing table with linear probing. Slot value 0
// means empty, so the hash 0 is stored as 1.
type setShard struct {
	slots []uint64
	n     int
	limit int // grow when n reaches limit
	cap0  int // capacity of the first allocation
}

// NewHashSet returns an empty set. It allocates nothing until the first Add.
func NewHashSet() *HashSet {
	s := &HashSet{}
	for i := range s.shards {
		s.shards[i].cap0 = int(setMinCap * math.Pow(setGrowth, float64(i)/setShards))
	}
	return s
}

// Add inserts h and reports whether it was absent.
func (s *HashSet) Add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	sh := &s.shards[h>>(64-setShardBits)]
	if sh.n >= sh.limit {
		sh.grow()
	}
	if sh.insert(h) {
		s.n++
		return true
	}
	return false
}

// Contains reports whether h is in the set.
func (s *HashSet) Contains(h uint64) bool {
	if h == 0 {
		h = 1
	}
	sh := &s.shards[h>>(64-setShardBits)]
	if len(sh.slots) == 0 {
		return false
	}
	for i := sh.home(h); ; {
		switch sh.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
		if i++; i == uint64(len(sh.slots)) {
			i = 0
		}
	}
}

// Len returns the number of members.
func (s *HashSet) Len() int { return s.n }

// SizeBytes returns the memory held by the set's tables.
func (s *HashSet) SizeBytes() int64 {
	var n int64
	for i := range s.shards {
		n += int64(cap(s.shards[i].slots)) * 8
	}
	return n
}

// home maps h to its first slot. The shard index took the top bits, so the
// rest are scaled onto the table, whose size need not be a power of two.
func (sh *setShard) home(h uint64) uint64 {
	hi, _ := bits.Mul64(h<<setShardBits, uint64(len(sh.slots)))
	return hi
}

// insert adds h (non-zero) to a table with a free slot and reports whether
// it was absent.
func (sh *setShard) insert(h uint64) bool {
	slots := sh.slots
	for i := sh.home(h); ; {
		switch slots[i] {
		case h:
			return false
		case 0:
			slots[i] = h
			sh.n++
			return true
		}
		if i++; i == uint64(len(slots)) {
			i = 0
		}
	}
}

func (sh *setShard) grow() {
	size := sh.cap0
	if len(sh.slots) > 0 {
		size = len(sh.slots) + int(float64(len(sh.slots))*(setGrowth-1))
	}
	old := sh.slots
	sh.slots = make([]uint64, size)
	sh.limit = int(float64(size) * setMaxLoad)
	sh.n = 0
	for _, h := range old {
		if h != 0 {
			sh.insert(h)
		}
	}
}
