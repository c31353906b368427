package simweb

import (
	"math"
	"time"
)

// The simulated web must be reproducible: every choice it makes comes from
// a hash of the server seed and the names involved (host, request URI), never
// from a global random source. FNV-1a is enough here: the inputs are short
// strings and the output only needs to be well spread, not secure. It is
// written out by hand so that hashing a string does not allocate.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString folds s into the running FNV-1a hash h.
func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	// A separator so that ("ab","c") and ("a","bc") differ.
	h ^= 0xff
	h *= fnvPrime
	return h
}

// hashUint folds v into the running hash h.
func hashUint(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// seedHash starts a hash from a seed and a domain tag, so that different
// decisions about the same host do not share their randomness.
func seedHash(seed uint64, tag string) uint64 {
	return hashString(hashUint(fnvOffset, seed), tag)
}

// rng is a splitmix64 generator: tiny, fast, good enough for workloads and
// latencies, and trivially seeded from a hash.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

// next returns the next 64 random bits.
func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform float in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform int in [0, n); n must be > 0.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// normal returns a standard normal sample (Box-Muller).
func (r *rng) normal() float64 {
	u1 := r.float()
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// lognormal returns median*exp(sigma*Z), capped at limit when limit > 0.
func (r *rng) lognormal(median time.Duration, sigma float64, limit time.Duration) time.Duration {
	d := time.Duration(float64(median) * math.Exp(sigma*r.normal()))
	return capDuration(d, limit)
}

// pareto returns a Pareto(min, alpha) sample, capped at limit when limit > 0.
func (r *rng) pareto(minimum time.Duration, alpha float64, limit time.Duration) time.Duration {
	u := 1 - r.float() // (0, 1]
	d := time.Duration(float64(minimum) / math.Pow(u, 1/alpha))
	return capDuration(d, limit)
}

func capDuration(d, limit time.Duration) time.Duration {
	if d < 0 {
		d = 0
	}
	if limit > 0 && d > limit {
		d = limit
	}
	return d
}

// pick returns an index into weights chosen by the uniform value u in [0,1).
func pick(weights []float64, u float64) int {
	var total float64
	for _, w := range weights {
		total += w
	}
	x := u * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
