package main

import (
	"runtime"
	"testing"
)

// TestOneCore: one P, unless GOMAXPROCS is set in the environment.
func TestOneCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		env  string
		want int
	}{
		{"3", 2}, // set: left as the runtime has it
		{"", 1},
	} {
		runtime.GOMAXPROCS(2)
		t.Setenv("GOMAXPROCS", tc.env)
		oneCore()
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("GOMAXPROCS=%q: %d Ps after oneCore, want %d", tc.env, got, tc.want)
		}
	}
}

// TestProcsGivesBackTheDefault: a worker's Procs sets the Ps it is given,
// and setting the start's default again hands GOMAXPROCS back to the
// runtime (runtime.SetDefaultGOMAXPROCS) rather than fixing it, so that
// the runtime follows the CPU limit again.
func TestProcsGivesBackTheDefault(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defaults := 0
	setDefaultProcs = func() { defaults++; runtime.SetDefaultGOMAXPROCS() }
	defer func() { setDefaultProcs = runtime.SetDefaultGOMAXPROCS }()
	p := procs(4)
	p(2)
	if got := runtime.GOMAXPROCS(0); got != 2 || defaults != 0 {
		t.Fatalf("after Procs(2): %d Ps, %d defaults restored; want 2 and 0", got, defaults)
	}
	if prev := p(4); prev != 2 || defaults != 1 {
		t.Fatalf("Procs(4), the default: returned %d, %d defaults restored; want 2 and 1", prev, defaults)
	}
}
