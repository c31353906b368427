package input

import (
	"math"
	"math/bits"
	"runtime"
)

// Set layout. Ten million URLs must fit in about 100 MB, so each key costs
// one uint64 slot and tables run full: a table grows when it reaches 92% load,
// by only 15%, which keeps every table between 80% and 92% full (a miss then
// probes a few cache lines). Growth happens one small shard at a time, so
// there is never a doubling spike, and shards start at sizes spread over one
// growth step so they do not all grow at the same moment: the set's overall
// load stays near its average (about 9.3 bytes per key) instead of swinging
// with each step. Large tables live outside the Go heap (slots_unix.go).
const (
	setShardBits = 8
	setShards    = 1 << setShardBits
	setMinCap    = 32
	setMaxLoad   = 0.92
	setGrowth    = 1.15
)

// HashSet is a set of 64-bit hashes using about 10 bytes per member. It stores
// no keys, only their hashes, so two keys whose hashes collide count as one
// (with 10 million members the chance of any collision is about 3 in a
// million). It is not safe for concurrent use.
type HashSet struct {
	*setTables
	n int
}

// setTables holds the shards apart from the HashSet so that a cleanup can
// unmap their off-heap slots once the set is unreachable.
type setTables struct {
	shards [setShards]setShard
}

// mappedBytes is the size of the tables that live outside the Go heap.
func (t *setTables) mappedBytes() int64 {
	var n int64
	for i := range t.shards {
		if t.shards[i].mapped {
			n += int64(len(t.shards[i].slots)) * 8
		}
	}
	return n
}

func (t *setTables) free() {
	for i := range t.shards {
		sh := &t.shards[i]
		if sh.mapped {
			freeSlots(sh.slots)
		}
		sh.slots, sh.mapped = nil, false
	}
}

// setShard is an open-addressing table with linear probing. Slot value 0
// means empty, so the hash 0 is stored as 1.
type setShard struct {
	slots  []uint64
	n      int
	limit  int  // grow when n reaches limit
	cap0   int  // capacity of the first allocation
	mapped bool // slots live outside the Go heap (allocSlots)
}

// NewHashSet returns an empty set. It allocates nothing until the first Add.
func NewHashSet() *HashSet {
	s := &HashSet{setTables: &setTables{}}
	runtime.AddCleanup(s, (*setTables).free, s.setTables)
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
	old, oldMapped := sh.slots, sh.mapped
	sh.slots, sh.mapped = allocSlots(size)
	sh.limit = int(float64(size) * setMaxLoad)
	sh.n = 0
	for _, h := range old {
		if h != 0 {
			sh.insert(h)
		}
	}
	if oldMapped {
		freeSlots(old)
	}
}
