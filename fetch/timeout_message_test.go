package fetch

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/humantime"
)

// TestTimeoutMessageDuration checks that a timeout's message gives the time
// as every human output does (internal/humantime: "1.1s"), not Go's
// "1.101s", which the text format printed beside a time column saying 1.1s.
func TestTimeoutMessageDuration(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	// Above a second, where the two forms differ.
	c := newTestClient(t, func(o *Options) { o.Timeout = 1100 * time.Millisecond })
	r := get(c, ts.URL+"/silent")
	wantKind(t, r, KindTimeout)
	m := regexp.MustCompile(`^timed out after (\S+) waiting for a response$`).FindStringSubmatch(r.Error.Message)
	if m == nil {
		t.Fatalf("message %q, want \"timed out after <duration> waiting for a response\"", r.Error.Message)
	}
	// The message's time is measured a moment before Timing.Total: they
	// may differ by a step of the last digit, never in form.
	shown := humantime.Millis(r.Timing.Total)
	if !regexp.MustCompile(`^[0-9]+\.[0-9]s$`).MatchString(m[1]) {
		t.Errorf("message says %q, want the form of the time column (%q)", m[1], shown)
	}
}
