package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestZeroRunPanicsPlainly: a Run not made by Engine.Start has no run
// behind it. Stop panicked on a nil func, Drain on closing a nil channel,
// and Results and DropQueued blocked forever; each now panics naming
// Engine.Start, at once.
func TestZeroRunPanicsPlainly(t *testing.T) {
	t.Parallel()
	for name, call := range map[string]func(r *Run){
		"Stop":       func(r *Run) { r.Stop() },
		"Drain":      func(r *Run) { r.Drain() },
		"Results":    func(r *Run) { r.Results() },
		"DropQueued": func(r *Run) { r.DropQueued(func(*fetch.Target) (fetch.Result, bool) { return fetch.Result{}, false }) },
	} {
		for kind, r := range map[string]*Run{"zero": new(Run), "nil": nil} {
			t.Run(kind+" "+name, func(t *testing.T) {
				t.Parallel()
				done := make(chan any, 1)
				go func() {
					defer func() { done <- recover() }()
					call(r)
				}()
				select {
				case p := <-done:
					msg, _ := p.(string)
					if !strings.Contains(msg, "Run."+name+" on a Run not made by Engine.Start") {
						t.Errorf("%s on a %s Run: recovered %v, want a panic naming Engine.Start", name, kind, p)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s on a %s Run blocked", name, kind)
				}
			})
		}
	}
}
