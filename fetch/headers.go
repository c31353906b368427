package fetch

import (
	"maps"
	"net/http"
	"slices"
)

// maxHeadersKept bounds the header names and values a result keeps with
// Options.ResponseHeaders. The transport reads up to MaxHeaderBytes (256
// KiB) of them, but a result may wait in the engine's window, the reorder
// buffer or a batch of the store with 10,000 others: kept whole, hostile
// replies could make that gigabytes. 32 KiB holds the headers of nearly
// every real response (large ones are a few KiB of Set-Cookie and CSP).
const maxHeadersKept = 32 << 10

// maxHeaderValuesKept bounds the values a result keeps: each costs a
// string header and a slice slot (32 bytes) besides its bytes, so that
// thousands of one-letter lines ("A: x"), little counted against
// maxHeadersKept, would otherwise keep half a megabyte.
// Real responses have a few dozen.
const maxHeaderValuesKept = 512

// keptHeaders returns the headers a result keeps of h: h itself (shared,
// not copied: nothing changes a response's header map once it is read)
// when its names and values fit in maxHeadersKept and maxHeaderValuesKept,
// else a copy of the values that fit, taken in name order so that which
// are kept does not depend on map order, and true. A value too long for
// the room left is skipped, not cut (a cut ETag is a wrong one), and
// shorter ones after it are still kept.
func keptHeaders(h http.Header) (http.Header, bool) {
	if len(h) == 0 {
		return nil, false
	}
	n, values := 0, 0
	for name, vs := range h {
		values += len(vs)
		for _, v := range vs {
			n += len(name) + len(v)
		}
	}
	if n <= maxHeadersKept && values <= maxHeaderValuesKept {
		return h, false
	}
	kept := make(http.Header)
	n, values = 0, 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			if size := len(name) + len(v); n+size <= maxHeadersKept && values < maxHeaderValuesKept {
				kept[name] = append(kept[name], v)
				n += size
				values++
			}
		}
	}
	return kept, true
}
