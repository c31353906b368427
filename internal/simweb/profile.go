package simweb

import "time"

// Profile is a host's character: how slow its /page URLs are, how often
// they fail, and whether it enforces politeness. ProfileFor picks one from
// hash(seed, host), so 2,000 host names give a varied but reproducible web.
type Profile struct {
	// Name is one of "fast", "normal", "slow", "flaky", "strict".
	Name string
	// Median and Sigma shape the log-normal latency of /page URLs.
	Median time.Duration
	Sigma  float64
	// ErrorRate is the fraction of /page URLs answering 500 or 503.
	ErrorRate float64
	// MaxConcurrent and MaxRate, when non-zero, make /page URLs answer 429
	// beyond that many concurrent requests or requests per second.
	MaxConcurrent int
	MaxRate       int
}

// profiles and their weights (percent of hosts).
var profiles = []Profile{
	{Name: "fast", Median: 5 * time.Millisecond, Sigma: 0.5, ErrorRate: 0.01},
	{Name: "normal", Median: 30 * time.Millisecond, Sigma: 0.8, ErrorRate: 0.02},
	{Name: "slow", Median: 200 * time.Millisecond, Sigma: 1.0, ErrorRate: 0.03},
	{Name: "flaky", Median: 50 * time.Millisecond, Sigma: 1.0, ErrorRate: 0.20},
	{Name: "strict", Median: 20 * time.Millisecond, Sigma: 0.5, ErrorRate: 0.01, MaxConcurrent: 2, MaxRate: 20},
}

var profileWeights = []float64{30, 40, 15, 10, 5}

// pageLatencyCap bounds the heavy tail of /page latencies so that a demo
// always ends.
const pageLatencyCap = 20 * time.Second

// ProfileFor returns the profile of host (lower-case, no port) under seed.
func ProfileFor(seed uint64, host string) Profile {
	h := hashString(seedHash(seed, "profile"), host)
	return profiles[pick(profileWeights, newRNG(h).float())]
}
