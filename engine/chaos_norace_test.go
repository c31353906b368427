//go:build !race

package engine_test

// defaultChaosN is TestChaos's size when FANOUT_CHAOS_N is unset: the
// issue's 20,000.
const defaultChaosN = 20_000
