package report

import "math"

// hostBuckets is the number of latency buckets kept per host. Bucket 0
// holds totals under 1ms; bucket i >= 1 holds [2^((i-1)/3), 2^(i/3)) ms, so
// 68 buckets reach about 70 minutes, past the hour the run's histogram
// covers (later values land in the last bucket), and each bucket is 26%
// wide. (48 reached only 41s: with --timeout 60s a host whose every
// request timed out showed ≈p50 46s.) A host costs about 400 bytes, so
// 100,000 hosts fit in about 50 MB.
const hostBuckets = 68

// hostAgg is the counters kept for one host.
type hostAgg struct {
	n, accepted, withError, bytes int64
	sumMs, maxMs                  float64
	classes                       [7]uint32
	kinds                         [numKinds]uint32
	lat                           [hostBuckets]uint32
}

func (h *hostAgg) add(ok bool, class, kind int, bytes int64, ms float64) {
	h.n++
	if ok {
		h.accepted++
	}
	h.bytes = addSat(h.bytes, bytes)
	h.classes[class]++
	if kind >= 0 {
		h.withError++
		h.kinds[kind]++
	}
	if ms > 0 {
		h.sumMs += ms
		h.maxMs = max(h.maxMs, ms)
		h.lat[hostBucket(ms)]++
	}
}

func hostBucket(ms float64) int {
	if ms < 1 {
		return 0
	}
	return min(1+int(3*math.Log2(ms)), hostBuckets-1)
}

// quantile estimates the latency at q (0..1) as the geometric middle of
// the bucket holding that rank, capped by the exact maximum.
func (h *hostAgg) quantile(q float64) float64 {
	var n int64
	for _, c := range h.lat {
		n += int64(c)
	}
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range h.lat {
		seen += int64(c)
		if seen < rank {
			continue
		}
		if i == 0 {
			return min(0.5, h.maxMs)
		}
		return min(math.Exp2((float64(i)-0.5)/3), h.maxMs)
	}
	return h.maxMs
}

// stat turns the counters into the exported form.
func (h *hostAgg) stat(host string) HostStat {
	s := HostStat{
		Host:      host,
		N:         h.n,
		Accepted:  h.accepted,
		WithError: h.withError,
		Bytes:     h.bytes,
		MaxMs:     h.maxMs,
		P50Ms:     h.quantile(0.50),
		P95Ms:     h.quantile(0.95),
	}
	for i, c := range h.classes {
		s.Classes[i] = int64(c)
	}
	var timed int64
	for _, c := range h.lat {
		timed += int64(c)
	}
	if timed > 0 {
		s.MeanMs = h.sumMs / float64(timed)
	}
	return s
}
