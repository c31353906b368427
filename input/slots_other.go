//go:build !unix

package input

// allocSlots returns n zeroed slots from the heap; only unix maps them.
func allocSlots(n int) ([]uint64, bool) { return make([]uint64, n), false }

func freeSlots([]uint64) {}
