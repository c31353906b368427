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

// keptHeaders returns the headers a result keeps of h: h itself (shared,
// not copied: nothing changes a response's header map once it is read)
// when its names and values fit in maxHeadersKept, else a copy of the
// values that fit, taken in name order so that which are kept does not
// depend on map order, and true. A value too long for the room left is
// skipped, not cut (a cut ETag is a wrong one), and shorter ones after it
// are still kept.
func keptHeaders(h http.Header) (http.Header, bool) {
	if len(h) == 0 {
		return nil, false
	}
	n := 0
	for name, vs := range h {
		for _, v := range vs {
			n += len(name) + len(v)
		}
	}
	if n <= maxHeadersKept {
		return h, false
	}
	kept := make(http.Header)
	n = 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			if size := len(name) + len(v); n+size <= maxHeadersKept {
				kept[name] = append(kept[name], v)
				n += size
			}
		}
	}
	return kept, true
}
