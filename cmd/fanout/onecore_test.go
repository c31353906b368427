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
