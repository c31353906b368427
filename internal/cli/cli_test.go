package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fanout/fanout/fetch"
)

var binary string // the built fanout command, for tests that need a process

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fanout-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "fanout")
	if out, err := exec.Command("go", "build", "-o", binary, "../../cmd/fanout").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fanout: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// site is a loopback server that answers by path and records, per Host
// header, the most requests it ever had in flight at once.
type site struct {
	*httptest.Server
	mu       sync.Mutex
	inflight map[string]int
	peak     map[string]int
	requests int
}

func newSite(t *testing.T) *site {
	s := &site{inflight: map[string]int{}, peak: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.inflight[r.Host]++
	s.peak[r.Host] = max(s.peak[r.Host], s.inflight[r.Host])
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight[r.Host]--
		s.mu.Unlock()
	}()
	switch {
	case strings.HasPrefix(r.URL.Path, "/slow"):
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	case r.URL.Path == "/404":
		http.NotFound(w, r)
		return
	case r.URL.Path == "/evil":
		fmt.Fprint(w, "<html><head><title>pwn\x1b[2J\x1b]0;owned\x07\rhidden\u202e</title></head></html>")
		return
	case r.URL.Path == "/ua":
		fmt.Fprintf(w, "<title>%q</title>", r.Header.Values("User-Agent"))
		return
	case r.URL.Path == "/echo":
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "<title>%s %s %s</title>", r.Method, body, r.Header.Get("X-Probe"))
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, "<html><head><title>ok</title></head><body>hello</body></html>")
}

func (s *site) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// closedPort returns a loopback port with nothing listening.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return p
}

// runCLI runs Main in-process and returns its exit code and streams.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func decodeLines(t *testing.T, s string) []fetch.Result {
	t.Helper()
	var rs []fetch.Result
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r fetch.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestCountInEqualsCountOut(t *testing.T) {
	s := newSite(t)
	dead := closedPort(t)
	var lines []string
	for i := range 400 {
		switch i % 8 {
		case 0:
			lines = append(lines, fmt.Sprintf("http://127.0.0.1:%s/404?%d", s.port(), i))
		case 1:
			lines = append(lines, fmt.Sprintf("http://127.0.0.1:%s/?%d", dead, i))
		case 2:
			lines = append(lines, fmt.Sprintf("ftp://example.invalid/%d", i))
		case 3:
			lines = append(lines, fmt.Sprintf("http://bad host/%d", i))
		default:
			lines = append(lines, fmt.Sprintf("http://site%d.test:%s/?%d", i%40, s.port(), i))
		}
	}
	code, out, errOut := runCLI(t, strings.Join(lines, "\n")+"\n# a comment\n\n",
		"-f", "jsonl", "-q", "--retries", "0", "--resolve", "*:"+s.port()+":127.0.0.1")
	rs := decodeLines(t, out)
	if len(rs) != len(lines) {
		t.Fatalf("results = %d, want %d (stderr %q)", len(rs), len(lines), errOut)
	}
	if code != ExitFailures {
		t.Errorf("exit code = %d, want %d", code, ExitFailures)
	}
	kinds := map[fetch.ErrorKind]int{}
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Input] = true
		if r.Error != nil {
			kinds[r.Error.Kind]++
		}
	}
	for _, l := range lines {
		if !seen[l] {
			t.Fatalf("no result for input %q", l)
		}
	}
	// The dead port's 50 targets: refused until --max-host-errors (30)
	// attempts in a row have failed there, then skipped.
	if kinds[fetch.KindRefused]+kinds[fetch.KindSkipped] != 50 || kinds[fetch.KindRefused] < 30 || kinds[fetch.KindInvalidURL] != 100 {
		t.Errorf("error kinds = %v, want 50 refused or skipped (at least 30 refused) and 100 invalid_url", kinds)
	}
}

func TestPerHostLimitSeenByServer(t *testing.T) {
	s := newSite(t)
	var args []string
	for i := range 60 {
		args = append(args, fmt.Sprintf("http://h%d.test:%s/slow/%d", i%3, s.port(), i))
	}
	code, _, errOut := runCLI(t, "", append([]string{"-q", "-c", "20", "--per-host", "2",
		"--resolve", "*:" + s.port() + ":127.0.0.1"}, args...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for h, p := range s.peak {
		if p > 2 {
			t.Errorf("host %s saw %d requests at once, want <= 2", h, p)
		}
	}
	if len(s.peak) != 3 {
		t.Errorf("hosts seen = %d, want 3", len(s.peak))
	}
}

func TestExitCodesAndUsageErrors(t *testing.T) {
	s := newSite(t)
	ok, notFound := s.URL+"/", s.URL+"/404"
	for _, tc := range []struct {
		name     string
		args     []string
		want     int
		stderrIs string // a substring the one-line message must contain
	}{
		{"all accepted", []string{ok}, ExitOK, ""},
		{"one not accepted", []string{ok, notFound}, ExitFailures, ""},
		{"404 accepted by --accept", []string{"--accept", "200..=299,404", notFound}, ExitOK, ""},
		{"bad flag value", []string{"-c", "zero", ok}, ExitUsage, "concurrency"},
		{"invalid concurrency", []string{"-c", "0", ok}, ExitUsage, "--concurrency"},
		{"negative max-host-errors", []string{"--max-host-errors", "-1", ok}, ExitUsage, "--max-host-errors must not be negative"},
		{"unknown flag", []string{"--frobnicate", ok}, ExitUsage, "frobnicate"},
		{"missing input file", []string{"-i", "/nonexistent/urls.txt"}, ExitUsage, "/nonexistent/urls.txt"},
		{"bad accept", []string{"--accept", "2x0", ok}, ExitUsage, "accept"},
		{"bad resolve", []string{"--resolve", "nonsense", ok}, ExitUsage, "--resolve"},
		{"bad header", []string{"-H", "NoColon", ok}, ExitUsage, "--header"},
		{"bad format", []string{"-f", "xml", ok}, ExitUsage, "xml"},
		{"format in any case", []string{"-f", "JSONL", ok}, ExitOK, ""},
		{"json for jsonl", []string{"-f", "json", ok}, ExitUsage, `--format: unknown output format "json": did you mean jsonl?`},
		{"new run without a database", []string{"--new-run", ok}, ExitUsage, "--new-run: give --db too"},
		{"bad max-body", []string{"--max-body", "lots", ok}, ExitUsage, "--max-body"},
		{"body from stdin", []string{"-d", "@-", ok}, ExitUsage, "cannot come from stdin"},
		{"duration in seconds", []string{"--timeout", "5", ok}, ExitOK, ""},
		{"bad duration", []string{"--timeout", "5 s", ok}, ExitUsage, `invalid argument "5 s" for "--timeout" flag: give seconds or a duration with a unit`},
		{"bad resolve named once", []string{"--resolve", "nonsense", ok}, ExitUsage, "fanout: --resolve \"nonsense\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", append([]string{"-q"}, tc.args...)...)
			if code != tc.want {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.want, errOut)
			}
			if tc.stderrIs != "" && !strings.Contains(errOut, tc.stderrIs) {
				t.Errorf("stderr %q does not name %q", errOut, tc.stderrIs)
			}
		})
	}
}

// TestUsageErrorNamesItsCommandsHelp: a subcommand's flags are not in
// fanout --help, so a usage error points at the help that lists them.
func TestUsageErrorNamesItsCommandsHelp(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		says, help string
	}{
		{[]string{"--frobnicate"}, "unknown flag: --frobnicate", "Run 'fanout --help' for usage."},
		{[]string{"show", "--frobnicate", "1"}, "unknown flag: --frobnicate", "Run 'fanout show --help' for usage."},
		{[]string{"show"}, "fanout: missing RUN (a run id from fanout runs, last, or last~N: the Nth run before the last)", "Run 'fanout show --help' for usage."},
		{[]string{"diff", "1"}, "fanout: missing RUN_B", "Run 'fanout diff --help' for usage."},
		{[]string{"diff", "1", "2", "3"}, `fanout: unexpected argument "3": want RUN_A RUN_B`, "Run 'fanout diff --help' for usage."},
		{[]string{"worker", "--frobnicate"}, "unknown flag: --frobnicate", "Run 'fanout worker --help' for usage."},
	} {
		code, _, errOut := runCLI(t, "", tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.says) {
			t.Errorf("%q: exit code %d, stderr %q; want %d and %q", tc.args, code, errOut, ExitUsage, tc.says)
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); lines[len(lines)-1] != tc.help {
			t.Errorf("%q: stderr %q, want it to end with %q", tc.args, errOut, tc.help)
		}
	}
}

func TestTextOutputEscapesControlCharacters(t *testing.T) {
	s := newSite(t)
	code, out, _ := runCLI(t, "", "-q", "--color", "always", s.URL+"/evil")
	if code != ExitOK {
		t.Fatalf("exit code %d", code)
	}
	// Colour codes are ours and allowed; nothing from the page may carry
	// ESC, BEL, CR or a bidi override.
	plain := stripSGR(out)
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e"} {
		if strings.Contains(plain, bad) {
			t.Errorf("output carries raw %q: %q", bad, out)
		}
	}
	if !strings.Contains(plain, "pwn") {
		t.Errorf("title missing from %q", out)
	}
}

// stripSGR removes the colour sequences fanout itself writes.
func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';') {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestNoGoroutinesLeftAfterCancel(t *testing.T) {
	s := newSite(t)
	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	code := Main(ctx, Env{Stdin: strings.NewReader(strings.Join(lines, "\n")), Stdout: &out, Stderr: &errb},
		[]string{"-f", "jsonl", "-q"})
	if code != ExitInterrupted {
		t.Errorf("exit code = %d, want %d", code, ExitInterrupted)
	}
	rs := decodeLines(t, out.String())
	if len(rs) == 0 || len(rs) > len(lines) {
		t.Errorf("results = %d", len(rs))
	}
	s.CloseClientConnections()
	if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
		t.Error(err)
	}
}

// The built binary, interrupted: the first SIGINT or SIGTERM lets requests in flight
// finish and prints the summary, with exit 130 and whole lines.
func TestInterruptDrainsThenExits130(t *testing.T) {
	for _, c := range []struct {
		sig   syscall.Signal
		again string
	}{{syscall.SIGINT, "(Ctrl-C again to stop at once)"}, {syscall.SIGTERM, "(SIGTERM again to stop at once)"}} {
		t.Run(c.sig.String(), func(t *testing.T) { testInterruptDrains(t, c.sig, c.again) })
	}
}

// testInterruptDrains sends sig to a run under way: it drains, exits 130
// with a summary, and its acknowledgement says again how to abort.
func testInterruptDrains(t *testing.T, sig syscall.Signal, again string) {
	s := newSite(t)
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	// A window of 20: the run reads far from all 100 lines before the
	// signal, and must say where the input stopped.
	cmd := exec.Command(binary, "-f", "jsonl", "-c", "4", "--per-host", "4", "--window", "20")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the run is well under way (requests have come in, so
	// fanout handles SIGINT): a fixed wait was not always enough on a
	// loaded machine, and a SIGINT before the handler kills the process.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.mu.Lock()
		n := s.requests
		s.mu.Unlock()
		if n >= 8 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("only %d requests within 10s", n)
		}
	}
	cmd.Process.Signal(sig)
	start := time.Now()
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != ExitInterrupted {
		t.Fatalf("exit code %d (%v), want 130; stderr %q", code, err, errb.String())
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("drain took %v; in-flight requests take 300ms", el)
	}
	rs := decodeLines(t, out.String())
	ok, canceled := 0, 0
	for _, r := range rs {
		switch {
		case r.Error == nil && r.Status == 200:
			ok++
		case r.Error != nil && r.Error.Kind == fetch.KindCanceled:
			canceled++
		}
	}
	if ok < 4 || ok+canceled != len(rs) {
		t.Errorf("after drain: %d ok, %d canceled of %d results", ok, canceled, len(rs))
	}
	if !strings.Contains(errb.String(), "wall") {
		t.Errorf("no summary on stderr: %q", errb.String())
	}
	if !strings.Contains(errb.String(), "fanout: interrupted: finishing the requests in flight") || !strings.Contains(errb.String(), again) {
		t.Errorf("the first %v was not acknowledged on stderr with %q: %q", sig, again, errb.String())
	}
	// Every target read has a result, and the summary says where the
	// input stopped: the rest can be fetched on its own.
	if want := fmt.Sprintf("not read      the input after line %d of stdin (interrupted", len(rs)); len(rs) >= len(lines) || !strings.Contains(errb.String(), want) {
		t.Errorf("%d results of %d lines; stderr lacks %q: %q", len(rs), len(lines), want, errb.String())
	}
	// The targets read but canceled are not in the rest it names: it says
	// how many there are, and how to find them.
	if want := fmt.Sprintf("not fetched   %d targets read were canceled (interrupted): their results have error kind canceled", canceled); canceled == 0 || !strings.Contains(errb.String(), want) {
		t.Errorf("%d canceled; stderr lacks %q: %q", canceled, want, errb.String())
	}
}

// A second SIGINT aborts requests in flight at once.
func TestSecondInterruptAborts(t *testing.T) {
	hold := make(chan struct{})
	arrived := make(chan struct{}, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hold)
	cmd := exec.Command(binary, "-f", "jsonl", "--timeout", "60s", srv.URL+"/a", srv.URL+"/b")
	var out bytes.Buffer
	var errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Both requests in flight: fanout is up and handles SIGINT (a fixed
	// 300 ms was not always enough on a loaded machine, and a SIGINT
	// before the handler kills the process).
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("fanout did not send both requests within 10s")
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	// The second comes after fanout said it took the first, and well
	// after the 100 ms within which a repeat is the same signal (GNU
	// timeout's, sent to fanout and to its group): a fixed 100 ms from
	// sending the first was inside that window when the first was taken
	// late, on a loaded machine under -race, and the run drained.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errb.String(), "interrupted: finishing"); {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the first SIGINT was not acknowledged within 10s: %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("second SIGINT did not stop fanout within 5s")
	}
	if code := cmd.ProcessState.ExitCode(); code != ExitInterrupted {
		t.Errorf("exit code %d, want 130", code)
	}
	if rs := decodeLines(t, out.String()); len(rs) != 2 {
		t.Errorf("results = %d, want 2 canceled", len(rs))
	}
}

// With the open-file limit at 256 and -c 5000, fanout lowers its
// concurrency with a warning and still gives every result, none EMFILE.
func TestLowFileLimitLowersConcurrency(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for ulimit")
	}
	s := newSite(t)
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("http://h%d.test:%s/n%d", i%100, s.port(), i))
	}
	cmd := exec.Command("bash", "-c", `ulimit -n 256 && exec "$0" "$@"`, binary,
		"-c", "5000", "-f", "jsonl", "--resolve", "*:"+s.port()+":127.0.0.1")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != ExitOK {
		t.Fatalf("exit %d (%v): %s", code, err, errb.String())
	}
	if !strings.Contains(errb.String(), "lowering --concurrency from 5000") {
		t.Errorf("no warning about the file limit: %q", errb.String())
	}
	rs := decodeLines(t, out.String())
	if len(rs) != len(lines) {
		t.Fatalf("results = %d, want %d", len(rs), len(lines))
	}
	for _, r := range rs {
		if r.Error != nil {
			t.Fatalf("%s: %s: %s", r.Input, r.Error.Kind, r.Error.Message)
		}
	}
}

// Output that cannot be written stops the run promptly with a clear
// message and exit 3: a full disk, and a reader that went away.
func TestUnwritableOutputStopsTheRun(t *testing.T) {
	s := newSite(t)
	var lines []string
	for i := range 3000 {
		lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	list := strings.Join(lines, "\n")

	t.Run("disk full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		cmd := exec.Command(binary, "-q", "-c", "100", "--per-host", "100", "-o", "/dev/full")
		cmd.Stdin = strings.NewReader(list)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != ExitIncomplete {
			t.Errorf("exit %d, want %d; stderr %q", code, ExitIncomplete, errb.String())
		}
		if !strings.Contains(errb.String(), "no space left on device") {
			t.Errorf("stderr %q does not say the disk is full", errb.String())
		}
		// 3,000 targets at 300ms with c=100 would take 9s: it must stop early.
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v to give up", el)
		}
	})

	t.Run("closed pipe", func(t *testing.T) {
		cmd := exec.Command(binary, "-q", "-c", "100", "--per-host", "100")
		cmd.Stdin = strings.NewReader(list)
		start := time.Now()
		errb := headOne(t, cmd)
		cmd.Wait()
		checkBrokenPipe(t, cmd, errb)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v to give up", el)
		}
	})

	// The summary does not send the user looking for canceled records
	// that were never written.
	t.Run("closed pipe, summary", func(t *testing.T) {
		cmd := exec.Command(binary, "-c", "100", "--per-host", "100")
		cmd.Stdin = strings.NewReader(list)
		errb := headOne(t, cmd)
		cmd.Wait()
		checkBrokenPipe(t, cmd, errb)
		if e := errb.String(); strings.Contains(e, "have error kind canceled") || !strings.Contains(e, "their results were not written") {
			t.Errorf("stderr %q: want the canceled targets' results said to be unwritten", e)
		}
		// Most of the failed were canceled unfetched: the headline says
		// so, not only the "not fetched" line below it.
		if e := errb.String(); !regexp.MustCompile(`results +[0-9]+ total, [0-9]+ accepted, [0-9]+ failed \([0-9]+ of them canceled\)\n`).MatchString(e) {
			t.Errorf("stderr %q: want the headline to count the canceled among the failed", e)
		}
	})

	// The reader goes while the targets left hold their requests: there is
	// no next write to fail, and fanout went on fetching for their whole
	// timeouts and retries (minutes) for a reader long gone.
	t.Run("closed pipe while nothing completes", func(t *testing.T) {
		hold := make(chan struct{})
		held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}))
		defer held.Close()
		defer close(hold)
		args := []string{"-q", "-f", "jsonl", "--timeout", "60s", s.URL + "/"}
		for i := range 5 {
			args = append(args, fmt.Sprintf("%s/%d", held.URL, i))
		}
		cmd := exec.Command(binary, args...)
		errb := headOne(t, cmd)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("still running 5s after its reader went away")
		}
		checkBrokenPipe(t, cmd, errb)
	})
}

// headOne starts cmd with its stdout a pipe, reads the first line and
// closes the pipe, as head -1 does; it returns cmd's stderr, which fills
// until cmd is waited for.
func headOne(t *testing.T, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	errb := new(bytes.Buffer)
	cmd.Stderr = errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line == "" {
		t.Fatalf("first line: %q, %v", line, err)
	}
	stdout.Close()
	return errb
}

// checkBrokenPipe checks that the ended cmd gave up on its closed output as
// on a failed write: exit 3, and "broken pipe" on stderr.
func checkBrokenPipe(t *testing.T, cmd *exec.Cmd, errb *bytes.Buffer) {
	t.Helper()
	if code := cmd.ProcessState.ExitCode(); code != ExitIncomplete {
		t.Errorf("exit %d, want %d; stderr %q", code, ExitIncomplete, errb.String())
	}
	if !strings.Contains(errb.String(), "broken pipe") || strings.Contains(errb.String(), "/dev/stdout") {
		t.Errorf("stderr %q does not say the pipe broke, or names /dev/stdout, which the user never gave", errb.String())
	}
}

// The demo runs offline against its own simulated web and exits 0 although
// some of its targets fail on purpose.
func TestDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "", "demo", "-q", "--n", "120", "--hosts", "6", "-f", "jsonl")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rs := decodeLines(t, out)
	if len(rs) != 120 {
		t.Fatalf("results = %d, want 120", len(rs))
	}
	ok := 0
	for _, r := range rs {
		if r.Error == nil && r.Status == 200 {
			ok++
		}
	}
	if ok == 0 || ok == len(rs) {
		t.Errorf("%d of %d plain 200s: the demo should mix successes and failures", ok, len(rs))
	}
}

// Request flags reach the server: -d @FILE without -X is a POST with the
// file's bytes, -X overrides the method, -H adds a header, an empty -d is a POST
// with an empty body.
func TestRequestFlags(t *testing.T) {
	s := newSite(t)
	body := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(body, []byte("from-file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		title string
	}{
		{[]string{"-d", "@" + body, "-H", "X-Probe: yes"}, "POST from-file yes"},
		{[]string{"-d", "inline", "-X", "PUT"}, "PUT inline"},
		{[]string{"-d", ""}, "POST"}, // an empty POST, as in curl
		{nil, "GET"},
	} {
		code, out, errOut := runCLI(t, "", append(append([]string{"-q", "-f", "jsonl"}, tc.args...), s.URL+"/echo")...)
		rs := decodeLines(t, out)
		if code != ExitOK || len(rs) != 1 {
			t.Fatalf("%v: exit %d, %d results: %s", tc.args, code, len(rs), errOut)
		}
		if got := strings.TrimSpace(rs[0].Title); got != tc.title {
			t.Errorf("%v: server saw %q, want %q", tc.args, got, tc.title)
		}
	}
}

// TestUserAgentFlag: -A sets the User-Agent, and an empty -A sends none, as in
// curl (it used to keep the default).
func TestUserAgentFlag(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct {
		args  []string
		title string
	}{
		{nil, `["fanout/` + fetch.Version + `"]`},
		{[]string{"-A", "probe/1"}, `["probe/1"]`},
		{[]string{"-A", ""}, `[]`},
		{[]string{"--user-agent="}, `[]`},
	} {
		code, out, errOut := runCLI(t, "", append(append([]string{"-q", "-f", "jsonl"}, tc.args...), s.URL+"/ua")...)
		rs := decodeLines(t, out)
		if code != ExitOK || len(rs) != 1 {
			t.Fatalf("%q: exit %d, %d results: %s", tc.args, code, len(rs), errOut)
		}
		if got := rs[0].Title; got != tc.title {
			t.Errorf("%q: server saw User-Agent %s, want %s", tc.args, got, tc.title)
		}
	}
}

// TestEmptyInputWarns: a list with no targets at all (blank lines and
// comments only) still exits 0, but says so, also under -q; a list whose
// lines are all invalid has targets, with results, and no warning.
func TestEmptyInputWarns(t *testing.T) {
	s := newSite(t)
	const warning = "no targets in the input"
	for _, tc := range []struct {
		stdin string
		code  int
		warn  bool
	}{
		{"", ExitOK, true},
		{"# only a comment\n\n   \n", ExitOK, true},
		{"not a url\n", ExitFailures, false},
		{s.URL + "/\n", ExitOK, false},
	} {
		code, _, errOut := runCLI(t, tc.stdin, "-q", "-i", "-")
		if code != tc.code || strings.Contains(errOut, warning) != tc.warn {
			t.Errorf("stdin %q: exit %d, stderr %q; want exit %d, warning %v", tc.stdin, code, errOut, tc.code, tc.warn)
		}
	}
}

// A directory on stdin (`fanout < dir`) is a usage error before anything
// runs, as -i DIR is, for the main command and submit alike.
func TestStdinDirectory(t *testing.T) {
	for _, args := range [][]string{{}, {"-i", "-"}, {"submit", "--nats", "nats://127.0.0.1:1"}} {
		dir, err := os.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := Main(context.Background(), Env{Stdin: dir, Stdout: &out, Stderr: &errb}, args)
		dir.Close()
		if code != ExitUsage || !strings.Contains(errb.String(), "stdin is a directory") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("fanout %q < dir: exit %d, stderr %q; want exit %d and one line saying stdin is a directory",
				args, code, errb.String(), ExitUsage)
		}
	}
}

// Duplicates are fetched once and counted in the summary; --no-dedupe
// fetches every line.
func TestDedupeFlag(t *testing.T) {
	s := newSite(t)
	in := strings.Repeat(s.URL+"/a\n"+strings.ToUpper(s.URL[:4])+s.URL[4:]+"/a\n", 3) + s.URL + "/b\n"
	code, out, errOut := runCLI(t, in, "-f", "jsonl")
	if rs := decodeLines(t, out); code != ExitOK || len(rs) != 2 {
		t.Fatalf("dedupe: exit %d, %d results, want 2", code, len(rs))
	}
	if !regexp.MustCompile(`duplicates +5 dropped from the input`).MatchString(errOut) {
		t.Errorf("summary does not count 5 duplicates: %q", errOut)
	}
	code, out, _ = runCLI(t, in, "-q", "-f", "jsonl", "--no-dedupe")
	if rs := decodeLines(t, out); code != ExitOK || len(rs) != 7 {
		t.Fatalf("--no-dedupe: exit %d, %d results, want 7", code, len(rs))
	}
}

// --ordered writes results in input order even when earlier targets
// finish last.
func TestOrderedOutput(t *testing.T) {
	s := newSite(t)
	var lines []string
	for i := range 40 {
		if i%10 == 0 {
			lines = append(lines, fmt.Sprintf("%s/slow/%d", s.URL, i))
		} else {
			lines = append(lines, fmt.Sprintf("%s/fast/%d", s.URL, i))
		}
	}
	code, out, errOut := runCLI(t, strings.Join(lines, "\n"), "-q", "-f", "jsonl", "--ordered", "-c", "20", "--per-host", "20")
	rs := decodeLines(t, out)
	if code != ExitOK || len(rs) != len(lines) {
		t.Fatalf("exit %d, %d results: %s", code, len(rs), errOut)
	}
	for i, r := range rs {
		if r.Input != lines[i] {
			t.Fatalf("line %d is %q, want %q: not in input order", i, r.Input, lines[i])
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true}, {"64KiB", 64 << 10, true}, {"1MiB", 1 << 20, true}, {"1MB", 1_000_000, true},
		{"2 GiB", 2 << 30, true}, {"1.5KB", 1500, true}, {"lots", 0, false}, {"10XB", 0, false}, {"0", 0, false},
		{"1TiB", 1 << 40, true}, {"0.5TB", 5e11, true},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	// Past the limit, the error names the limit, not the unit it is
	// written in.
	if _, err := parseSize("2TiB"); err == nil || !strings.Contains(err.Error(), "1 TiB") {
		t.Errorf("parseSize(2TiB) = %v, want the 1 TiB limit", err)
	}
}

// A POST that timed out may have taken effect: it is not sent again, while
// a GET to the same place is retried as asked.
func TestPostNotRetriedAfterTimeout(t *testing.T) {
	t.Parallel()
	var posts, gets atomic.Int32
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			gets.Add(1)
		}
		select { // longer than --timeout
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		args  []string
		count *atomic.Int32
		want  int32
	}{
		{[]string{"-d", "payload"}, &posts, 1},
		{nil, &gets, 3},
	} {
		args := append([]string{"-q", "-f", "jsonl", "--timeout", "1s", "--retries", "2"}, tc.args...)
		code, out, errOut := runCLI(t, "", append(args, ts.URL+"/hook")...)
		rs := decodeLines(t, out)
		if code != ExitFailures || len(rs) != 1 || rs[0].Error == nil || rs[0].Error.Kind != "timeout" {
			t.Fatalf("%v: exit %d, %s %s", tc.args, code, out, errOut)
		}
		if n := tc.count.Load(); n != tc.want || rs[0].Attempts != int(tc.want) {
			t.Errorf("%v: the server got %d requests, the result says %d attempts; want %d", tc.args, n, rs[0].Attempts, tc.want)
		}
	}
}

// TestCACert: --cacert trusts a private CA (here the test server's own
// certificate); a file that is missing or holds no PEM certificate is a
// one-line usage error naming the flag.
func TestCACert(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "", "-q", "-f", "jsonl", ts.URL); code != ExitFailures || !strings.Contains(out, "--cacert FILE") {
		t.Errorf("without --cacert: exit %d, %s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "", "-q", "-f", "jsonl", "--cacert", ca, ts.URL); code != ExitOK || !strings.Contains(out, `"status":200`) {
		t.Errorf("--cacert: exit %d, %s%s", code, out, errOut)
	}
	// Given a CA that did not sign the server's certificate, the hint must
	// not send the user to --cacert again.
	otherCA := newTestCA(t, "other").File
	if code, out, errOut := runCLI(t, "", "-q", "-f", "jsonl", "--cacert", otherCA, ts.URL); code != ExitFailures ||
		strings.Contains(out, "--cacert FILE") || !strings.Contains(out, "not one --cacert trusts") {
		t.Errorf("another CA in --cacert: exit %d, %s%s", code, out, errOut)
	}
	notPEM := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{notPEM, "--cacert " + notPEM + ": no PEM certificate in it"},
		{filepath.Join(dir, "missing.pem"), "--cacert " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
	} {
		code, _, errOut := runCLI(t, "", "-q", "--cacert", tc.file, ts.URL)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("--cacert %s: exit %d, stderr %q; want exit %d saying %q", tc.file, code, errOut, ExitUsage, tc.want)
		}
	}
}

// TestClientCert: --cert and --key present a client certificate to a server
// that requires one (mutual TLS); without them the failure says what to
// give; bad files are usage errors naming the flag and the file.
func TestClientCert(t *testing.T) {
	ca := newTestCA(t, "clients")
	certFile, keyFile, keyPEM := ca.issue("probe", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<title>%s</title>", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	ts.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ts.StartTLS()
	t.Cleanup(ts.Close)

	code, out, errOut := runCLI(t, "", "-q", "-f", "jsonl", "-k", "--retries", "0", ts.URL)
	if rs := decodeLines(t, out); code != ExitFailures || len(rs) != 1 || rs[0].Error == nil ||
		rs[0].Error.Kind != fetch.KindTLS || !strings.Contains(rs[0].Error.Message, "--cert FILE --key FILE") {
		t.Errorf("without --cert: exit %d, %s%s; want a tls error naming --cert", code, out, errOut)
	}
	both := filepath.Join(t.TempDir(), "both.pem")
	cert, _ := os.ReadFile(certFile)
	if err := os.WriteFile(both, append(cert, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--cert", certFile, "--key", keyFile}, {"-E", both}} {
		code, out, errOut := runCLI(t, "", append([]string{"-q", "-f", "jsonl", "-k", ts.URL}, args...)...)
		if rs := decodeLines(t, out); code != ExitOK || len(rs) != 1 || rs[0].Title != "probe" {
			t.Errorf("%q: exit %d, %s%s; want the server to see client probe", args, code, out, errOut)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--key", keyFile}, "--key " + keyFile + ": give the certificate too"},
		{[]string{"--cert", certFile}, "--cert " + certFile + ": no private key in it"},
		{[]string{"--cert", missing}, "--cert " + missing + ": no such file"},
		{[]string{"--cert", certFile, "--key", missing}, "--key " + missing + ": no such file"},
		{[]string{"--cert", keyFile, "--key", keyFile}, "--cert " + keyFile + ": no PEM certificate"},
		{[]string{"--cert", certFile, "--key", certFile}, "--key " + certFile + ": no PEM private key"},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"-q", ts.URL}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut, ExitUsage, tc.want)
		}
	}
}

// TestNumberFlagErrors: pflag's strconv errors say what the flag wants.
func TestNumberFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "abc"}, `invalid argument "abc" for "-c, --concurrency" flag: want a whole number`},
		{[]string{"--rate", "x"}, `invalid argument "x" for "--rate" flag: want a number`},
		{[]string{"-c", "99999999999999999999"}, `flag: want a whole number in range`},
		{[]string{"worker", "-c", "abc"}, `invalid argument "abc" for "-c, --concurrency" flag: want a whole number`},
	} {
		code, _, errOut := runCLI(t, "", append(tc.args, "http://127.0.0.1:9/")...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "strconv") {
			t.Errorf("%q: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// The demo's --help shows the --timeout it uses (3s), not the main
// command's 10s.
func TestDemoHelpTimeout(t *testing.T) {
	_, out, _ := runCLI(t, "", "demo", "--help")
	var line string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "--timeout ") {
			line = l
		}
	}
	if !strings.Contains(line, "(default 3s)") {
		t.Errorf("demo --help: %q, want --timeout (default 3s)", line)
	}
}

// TestDemoHelpListsOnlyWhatItTakes: the demo makes its own targets and
// refuses -i; its --help listed -i all the same.
func TestDemoHelpListsOnlyWhatItTakes(t *testing.T) {
	_, out, _ := runCLI(t, "", "demo", "--help")
	if strings.Contains(out, "--input") {
		t.Errorf("demo --help lists --input, which the demo refuses:\n%s", out)
	}
	code, _, errOut := runCLI(t, "", "demo", "-q", "--n", "1", "-i", "links.txt")
	if code != ExitUsage || !strings.Contains(errOut, "demo makes its own targets") {
		t.Errorf("demo -i: exit %d, stderr %q; want %d and the reason", code, errOut, ExitUsage)
	}
}

// TestRateHelpSaysAttempts: --rate and --host-rate limit attempts (a
// target's redirects are followed within its attempt, unpaced), as README
// says; the help said requests.
func TestRateHelpSaysAttempts(t *testing.T) {
	_, out, _ := runCLI(t, "", "--help")
	for _, flag := range []string{"--rate ", "--host-rate "} {
		var line string
		for l := range strings.Lines(out) {
			if strings.Contains(l, flag) {
				line = l
			}
		}
		if !strings.Contains(line, "attempts per second") || strings.Contains(line, "requests") {
			t.Errorf("fanout --help: %q, want %s said in attempts per second", line, flag)
		}
	}
}

// TestCollectHelpDB: collect took the main command's --db help, "an
// unfinished run with the same inputs is resumed", but has no inputs: its
// --db records one run per --run NAME, continued by the next collect.
func TestCollectHelpDB(t *testing.T) {
	_, out, _ := runCLI(t, "", "collect", "--help")
	var line string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "--db ") {
			line = l
		}
	}
	if strings.Contains(line, "inputs") || !strings.Contains(line, "per --run NAME") {
		t.Errorf("collect --help: %q, want --db said per --run NAME, not about inputs", line)
	}
	// The main command's own --db help is not changed with it.
	_, out, _ = runCLI(t, "", "--help")
	if !strings.Contains(out, "an unfinished run with the same inputs is resumed") {
		t.Errorf("fanout --help lost its --db help:\n%s", out)
	}
}
