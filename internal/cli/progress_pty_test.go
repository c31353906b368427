//go:build linux

package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/ptytest"
)

// TestProgressTotalLeavesDuplicates: the progress bar's total counts every
// input line, but a duplicate gets no result and is not in the summary's
// count: the bar must end at 4/4 beside "4 total", not at 8/8 with the
// duplicates counted as done (nor at 4/8 with an ETA that never comes).
func TestProgressTotalLeavesDuplicates(t *testing.T) {
	s := newSite(t)
	slave, read := ptytest.Capture(t, 100, 24)
	list := t.TempDir() + "/urls.txt"
	var lines strings.Builder
	for range 2 {
		for i := range 4 {
			fmt.Fprintf(&lines, "%s/slow?n=%d\n", s.URL, i)
		}
	}
	if err := os.WriteFile(list, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave},
		[]string{"-i", list, "-c", "2", "--per-host", "2", "-o", t.TempDir() + "/out.txt"})
	got := read()
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if !strings.Contains(got, "4/4 [=") {
		t.Errorf("the bar never reached 4/4 (4 targets, 4 duplicates):\n%q", got)
	}
	for _, bad := range []string{"8/8", "4/8"} {
		if strings.Contains(got, bad) {
			t.Errorf("a frame shows %s: the duplicates counted, in the total or as done:\n%q", bad, got)
		}
	}
	if !strings.Contains(got, "4 total") || !strings.Contains(got, "duplicates    4 dropped from the input") {
		t.Errorf("summary lacks the 4 results and 4 duplicates:\n%q", got)
	}
}

// TestDumbTerminalGetsNoEscapes: TERM=dumb (Emacs' M-x shell, some CI log
// viewers) is a terminal that cannot move its cursor or show colours: the
// progress bar's cursor movements and the status colours would print there
// as text. The results and the summary still come.
func TestDumbTerminalGetsNoEscapes(t *testing.T) {
	t.Setenv("TERM", "dumb")
	t.Setenv("NO_COLOR", "")
	s := newSite(t)
	slave, read := ptytest.Capture(t, 100, 24)
	var args []string
	for i := range 3 {
		args = append(args, fmt.Sprintf("%s/slow?n=%d", s.URL, i))
	}
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: slave, Stderr: slave},
		append([]string{"-c", "1"}, args...))
	got := read()
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("escape sequences on a dumb terminal:\n%q", got)
	}
	if !strings.Contains(got, "/slow?n=2") || !strings.Contains(got, "3 total") {
		t.Errorf("results or summary missing:\n%q", got)
	}
}

// TestProgressShowsWaitingRetries: a target waiting out a server's
// Retry-After is neither done nor in flight, and a bar showing only the
// rate looked hung; it says how many wait to be retried.
func TestProgressShowsWaitingRetries(t *testing.T) {
	var asked atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer ts.Close()
	slave, read := ptytest.Capture(t, 100, 24)
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave},
		[]string{"-o", t.TempDir() + "/out.txt", ts.URL})
	got := read()
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if !strings.Contains(got, "1 waiting to retry") {
		t.Errorf("the bar never said that a target waits to be retried:\n%q", got)
	}
}

// TestProgressNoShortETAWhileWaitingToRetry: once the other targets are
// done, the last one waiting out a Retry-After of 2 s made the bar show
// an ETA from the recent rate, "ETA 6.8ms", for those 2 s: the bar does
// not know when a retry is due, so it shows none.
func TestProgressNoShortETAWhileWaitingToRetry(t *testing.T) {
	var asked atomic.Int32
	later := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer later.Close()
	s := newSite(t)
	args := []string{"-o", t.TempDir() + "/out.txt", "-c", "8", "--per-host", "8", later.URL + "/"}
	for i := range 40 {
		args = append(args, fmt.Sprintf("%s/fast?n=%d", s.URL, i))
	}
	slave, read := ptytest.Capture(t, 120, 24)
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave}, args)
	got := read()
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%q", code, got)
	}
	if !strings.Contains(got, "40/41") || !strings.Contains(got, "1 waiting to retry") {
		t.Fatalf("no frame shows the other 40 done while 1 waits to be retried:\n%q", got)
	}
	if strings.Contains(got, "waiting to retry  ETA") {
		t.Errorf("an ETA beside a target waiting to retry:\n%q", got)
	}
}

// TestProgressFailedFollowsAccept: the bar counts failed targets as the
// summary does, by --accept: a 404 accepted by 200..=404 is not failed.
func TestProgressFailedFollowsAccept(t *testing.T) {
	s := newSite(t)
	for _, c := range []struct {
		accept, want string
	}{{"200..=399", "1 failed"}, {"200..=404", "0 failed"}} {
		slave, read := ptytest.Capture(t, 100, 24)
		// -c 1: the 404 first, then a slow target the bar is drawn during.
		code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave},
			[]string{"-c", "1", "--accept", c.accept, "-o", t.TempDir() + "/out.txt", s.URL + "/404", s.URL + "/slow?n=1"})
		got := read()
		if code == ExitUsage {
			t.Fatalf("exit %d:\n%q", code, got)
		}
		// The bar's last frame (its stats end in the ETA; the summary
		// says "failed" too): early ones show 0 failed before the 404 is in.
		if i := strings.LastIndex(got, " failed  ETA"); i < 0 || !strings.HasSuffix(got[:i+len(" failed")], " "+c.want) {
			t.Errorf("--accept %s: the bar's last frame does not say %q:\n%q", c.accept, c.want, got)
		}
	}
}

// TestProgressInterruptedStopsAtFetched: after Ctrl-C the targets drained
// unfetched are canceled; the bar counted them as done and showed up to
// 50/50 for a run that fetched 2. It must stop at what was fetched and
// show the canceled apart; the summary counts them as before.
func TestProgressInterruptedStopsAtFetched(t *testing.T) {
	arrived := make(chan struct{}, 2)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		// Held long enough for the bar to redraw (every 150 ms) with the
		// canceled targets in while these two are still in flight, on a
		// loaded machine too.
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	var args []string
	for i := range 50 {
		args = append(args, fmt.Sprintf("%s/t%d", ts.URL, i))
	}
	slave, read := ptytest.Capture(t, 120, 24)
	interrupt := make(chan struct{})
	go func() {
		// Ctrl-C once both slots are busy: the other 48 are never fetched.
		for range 2 {
			<-arrived
		}
		close(interrupt)
	}()
	code := Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: slave, Interrupt: interrupt},
		append([]string{"-c", "2", "--per-host", "2", "-o", t.TempDir() + "/out.txt"}, args...))
	got := read()
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want %d:\n%q", code, ExitInterrupted, got)
	}
	// The input is read in chunks: the summary says how many targets were
	// read, and canceled, by the Ctrl-C (up to 48; "not read" the rest).
	// The headline says the failed are the canceled ones.
	m := regexp.MustCompile(`results +([0-9]+) total, 2 accepted, ([0-9]+) failed \(([0-9]+) of them canceled\)\r\n[^\n]*\n+errors +canceled ([0-9]+)\r\n`).FindStringSubmatch(got)
	if m == nil || m[2] != m[4] || m[3] != m[4] {
		t.Fatalf("summary does not count 2 accepted and the rest canceled, in its headline too:\n%q", got)
	}
	for _, f := range regexp.MustCompile(`([0-9]+)/50 `).FindAllStringSubmatch(got, -1) {
		if n, _ := strconv.Atoi(f[1]); n > 2 {
			t.Fatalf("the bar shows %s/50 done, 2 fetched: the canceled counted as done:\n%q", f[1], got)
		}
	}
	if !strings.Contains(got, "  "+m[4]+" canceled") {
		t.Errorf("the bar never showed the %s canceled targets apart:\n%q", m[4], got)
	}
}
