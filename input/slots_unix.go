//go:build unix

package input

import (
	"syscall"
	"unsafe"
)

// offHeapMin is the table size from which slots live outside the Go heap.
// The set holds no pointers, so the garbage collector has nothing to scan
// in it; kept in the heap it would still let the heap grow to twice the
// set's size before collecting (GOGC), doubling the memory ten million
// URLs cost. Small tables stay in the heap: a mapping costs a whole page.
const offHeapMin = 8 << 10 // bytes

// allocSlots returns n zeroed slots, and whether they were mapped outside
// the Go heap (then only freeSlots may release them).
func allocSlots(n int) ([]uint64, bool) {
	size := n * 8
	if size < offHeapMin {
		return make([]uint64, n), false
	}
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n), false // no mapping to be had: the heap still works
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), n), true
}

// freeSlots unmaps slots that allocSlots mapped.
func freeSlots(s []uint64) {
	syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8))
}
