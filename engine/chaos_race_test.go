//go:build race

package engine_test

// defaultChaosN is TestChaos's size when FANOUT_CHAOS_N is unset. Under the
// race detector the full 20,000 take about two minutes on two shared
// cores, so the default is smaller; FANOUT_CHAOS_N=20000 runs it in full.
const defaultChaosN = 4_000
