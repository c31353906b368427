package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// A context that ends the run before it read a target (a second Ctrl-C
// while stdin has given nothing yet, or a signal before the run began) is
// an interrupt, exit 130: the engine reports it as the run's error then,
// and it must not read as an input that failed ("reading targets: context
// canceled", exit 3).
func TestInterruptBeforeAnyTargetRead(t *testing.T) {
	s := newSite(t)
	for _, c := range []struct {
		name  string
		stdin func(t *testing.T) io.Reader
		args  []string
		after time.Duration // cancel this long after Main starts; 0: before
	}{
		{name: "before the run", stdin: func(*testing.T) io.Reader { return strings.NewReader("") }, args: []string{s.URL + "/a"}},
		{name: "stdin gave nothing yet", stdin: func(t *testing.T) io.Reader {
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			return pr
		}, args: []string{"-i", "-"}, after: 100 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.after == 0 {
				cancel()
			} else {
				time.AfterFunc(c.after, cancel)
			}
			var out, errb bytes.Buffer
			code := Main(ctx, Env{Stdin: c.stdin(t), Stdout: &out, Stderr: &errb}, c.args)
			if code != ExitInterrupted {
				t.Errorf("exit code = %d, want %d (interrupted); stderr:\n%s", code, ExitInterrupted, errb.String())
			}
			if strings.Contains(errb.String(), "reading targets") {
				t.Errorf("an interrupt reported as an input error:\n%s", errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("output %q, want none", out.String())
			}
		})
	}
}
