package input

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// fillSet adds n random keys from seed and returns the set and the bytes of
// heap it holds, measured around its construction.
func fillSet(n int, seed uint64) (*HashSet, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewHashSet()
	rng := rand.New(rand.NewPCG(seed, seed))
	for range n {
		s.Add(rng.Uint64())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	// Large tables are mapped outside the heap: count them too.
	return s, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)+s.mappedBytes()) / float64(n)
}

// TestHashSet checks exact membership and the memory bound. Not parallel: it
// measures the heap.
func TestHashSet(t *testing.T) {
	const n = 200_000
	s, perKey := fillSet(n, 1)
	if s.Len() != n {
		t.Fatalf("Len() = %d, want %d", s.Len(), n)
	}
	if perKey > 12 {
		t.Errorf("%.2f bytes per key, want at most 12", perKey)
	}
	if b := float64(s.SizeBytes()) / n; b > 12 {
		t.Errorf("SizeBytes: %.2f bytes per key, want at most 12", b)
	}
	t.Logf("%d keys: %.2f heap bytes per key, %.2f table bytes per key", n, perKey, float64(s.SizeBytes())/n)

	rng := rand.New(rand.NewPCG(1, 1))
	for i := range n {
		k := rng.Uint64()
		if !s.Contains(k) {
			t.Fatalf("key %d (%#x) missing", i, k)
		}
		if s.Add(k) {
			t.Fatalf("key %d (%#x) added twice", i, k)
		}
	}
	other := rand.New(rand.NewPCG(2, 2))
	for i := range n {
		if k := other.Uint64(); s.Contains(k) {
			t.Fatalf("key %#x never added is reported present (after %d)", k, i)
		}
	}
	if s.Len() != n {
		t.Errorf("Len() = %d after re-adding, want %d", s.Len(), n)
	}
}

// TestHashSetZero checks the key reserved as the empty slot.
func TestHashSetZero(t *testing.T) {
	t.Parallel()
	s := NewHashSet()
	if s.Contains(0) || s.Contains(1) {
		t.Fatal("empty set contains 0 or 1")
	}
	if !s.Add(0) || s.Add(0) || !s.Contains(0) || s.Len() != 1 {
		t.Errorf("Add(0) twice: Len %d, Contains(0) %v", s.Len(), s.Contains(0))
	}
	// Keys of one shard whose home is the last slot exercise probing and
	// wrap-around, through several growths.
	const tail = 0x00ffffffffffff00
	for i := range uint64(256) {
		if !s.Add(tail | i) {
			t.Fatalf("key %d not added", i)
		}
	}
	for i := range uint64(256) {
		if !s.Contains(tail | i) {
			t.Fatalf("key %d missing", i)
		}
	}
}
