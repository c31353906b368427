package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOrderedBufferBoundedByWindow: with --ordered, a first target that
// takes long must not let the rest of the list finish into the reorder
// buffer: the reading stops a window ahead of the oldest result not yet
// written, so the buffer holds less than --window results whatever the
// length of the list.
func TestOrderedBufferBoundedByWindow(t *testing.T) {
	t.Parallel()
	const window, n = 20, 400
	var fast atomic.Int32
	var seenWhileSlow atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			fast.Add(1)
			return
		}
		// Held until the rest of the list is done, or for a second.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) && fast.Load() < n-1 {
			time.Sleep(5 * time.Millisecond)
		}
		seenWhileSlow.Store(fast.Load())
	}))
	t.Cleanup(ts.Close)
	lines := []string{ts.URL + "/slow"}
	for i := 1; i < n; i++ {
		lines = append(lines, fmt.Sprintf("%s/fast/%d", ts.URL, i))
	}
	code, out, errOut := runCLI(t, strings.Join(lines, "\n"), "-q", "-f", "jsonl", "--ordered",
		"-c", "8", "--per-host", "8", "--window", fmt.Sprint(window))
	rs := decodeLines(t, out)
	if code != ExitOK || len(rs) != n {
		t.Fatalf("exit %d, %d results, want %d: %s", code, len(rs), n, errOut)
	}
	for i, r := range rs {
		if r.Input != lines[i] {
			t.Fatalf("line %d is %q, want %q", i, r.Input, lines[i])
		}
	}
	if got := seenWhileSlow.Load(); got >= window {
		t.Fatalf("%d targets were fetched while the first one was held: the reorder buffer grew past --window %d", got, window)
	}
}
