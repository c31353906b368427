package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// recorder is a loopback server that keeps each request's method, body
// and X-Probe header.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD body x-probe"
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, fmt.Sprintf("%s %s %s", r.Method, body, r.Header.Get("X-Probe")))
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.Close)
	return rec
}

// take returns the requests seen since the last call.
func (rec *recorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := rec.seen
	rec.seen = nil
	return seen
}

// TestHTTPXFlags: httpx's single-dash flags were read by pflag as
// clusters of fanout's letters: "-duc" sent a POST with body "uc", "-ob"
// wrote the results to a file named b, "-delay 1s" sent a POST and took
// 1s for a host, "-vhost" printed the help and exited 0. Each is refused
// before anything is fetched or written, naming the flag; fanout's own
// clusters, values attached curl-style, a value that starts with a dash
// and anything after -- still work.
func TestHTTPXFlags(t *testing.T) {
	// Not parallel: the working directory is where a misread -ob would
	// write its file "b".
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("body.json", []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t)
	target := rec.URL + "/flag"
	// Any stray name goes to a closed loopback port, never to DNS.
	safe := []string{"--resolve", "*:80:127.0.0.1", "--resolve", "*:443:127.0.0.1", "--retries", "0", "-q"}

	for _, tc := range []struct {
		args []string
		says string // in stderr besides the flag's name
	}{
		{[]string{"-duc", target}, `(read here as -d uc: a POST with body "uc"); fanout never checks for updates`},
		{[]string{"-debug", target}, `a POST with body "ebug"`},
		{[]string{"-delay", "1s", target}, "--rate"},
		{[]string{"-rl", "10", target}, "here: --rate N (attempts per second)"},
		{[]string{"-rlm", "600", target}, "here: --rate N/60 (attempts per second)"}, // a minute's count
		{[]string{"-ob", target}, `the results written to a file named "b"`},
		{[]string{"-or", target}, "katana's"},
		{[]string{"-oa", "-o", "out.txt", target}, "-o FILE"},
		{[]string{"-output", "out.txt", target}, "here: -o FILE"}, // was -o utput, out.txt a host
		{[]string{"-header", "X-Probe: x", target}, `here: -H "Name: value"`},
		{[]string{"-vhost", target}, "read here as -v -h -o st"},
		{[]string{"-fc", "404", target}, "--accept"},
		{[]string{"-fr", target}, "--no-follow"},
		{[]string{"-fs", "1000", target}, "no such option"},
		{[]string{"-ip", target}, `targets read from a file named "p"`},
		{[]string{"-irh", target}, "here: --response-headers"}, // added beside it: not "no such option"
		{[]string{"-cdn", target}, "no such option"},
		{[]string{"-csv", target}, "-f csv"},
		{[]string{"-resume", target}, "--db FILE, then fanout resume"},
		{[]string{"-mc=200", target}, "--accept CODES"},
		{[]string{"-ms", `"status":"UP"`, target}, "here: --match STRING"},
		{[]string{"-mr", "UP|OK", target}, "no regex match: --match STRING"},
		{[]string{"-silent", target}, "here: -q"},
		{[]string{"-l", "urls.txt"}, "here: -i FILE"},
		{[]string{target, "-json"}, "here: -f jsonl"}, // after a target too
		{[]string{"-timeout", "3s", target}, "--timeout"},
		{[]string{"-k", "--data", "x", "-duc", target}, "-d uc"}, // after a long flag's value
		{[]string{"demo", "--n", "1", "--hosts", "1", "-duc"}, "-d uc"},
		{[]string{"show", "1", "-ob"}, `the results written to a file named "b"`}, // -f and -o there too
		{[]string{"runs", "-json"}, "here: -f jsonl"},
	} {
		args := append(append([]string{}, safe...), tc.args...)
		if tc.args[0] == "show" || tc.args[0] == "runs" { // they fetch nothing, nor take --resolve
			args = tc.args
		}
		code, out, errOut := runCLI(t, "", args...)
		var flag string // the word refused, without its value
		for _, a := range tc.args {
			if word, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "="); a[0] == '-' && httpxFlags[word] != "" {
				flag = "-" + word
			}
		}
		if code != ExitUsage || !strings.Contains(errOut, flag+" is ") || !strings.Contains(errOut, tc.says) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and a refusal naming %s and saying %q",
				tc.args, code, out, errOut, ExitUsage, flag, tc.says)
		}
		if seen := rec.take(); len(seen) > 0 {
			t.Errorf("%q: the server got %q, want no request", tc.args, seen)
		}
		if names, _ := os.ReadDir("."); len(names) != 1 {
			t.Errorf("%q: files %v written, want body.json alone", tc.args, names)
			for _, n := range names {
				if n.Name() != "body.json" {
					os.Remove(n.Name())
				}
			}
		}
	}

	for _, tc := range []struct {
		args []string
		want string // the request the server saw
	}{
		{[]string{"-qk", target}, "GET  "},
		{[]string{"-kq", target}, "GET  "},
		{[]string{"-d@body.json", target}, `POST {"a":1} `},
		{[]string{"-dname=value", target}, "POST name=value "},
		{[]string{"-d=uc", target}, "POST uc "},
		{[]string{"-HX-Probe:x", target}, "GET  x"},
		{[]string{"-c50", target}, "GET  "},
		{[]string{"-d", "-debug", target}, "POST -debug "}, // a value, as curl reads it
		{[]string{"--data", "-duc", target}, "POST -duc "},
		{[]string{"-H", "X-Probe: -json", target}, "GET  -json"},
		{[]string{"-oout.txt", target}, "GET  "},
		{[]string{"-f", "csv", "-qoout.txt", target}, "GET  "}, // over out.txt
		{[]string{target, "--", "-duc"}, "GET  "},              // after --, a target (an invalid one)
	} {
		args := append(append([]string{}, safe...), tc.args...)
		code, _, errOut := runCLI(t, "", args...)
		if code == ExitUsage {
			t.Errorf("%q: exit %d, stderr %q; want a run", tc.args, code, errOut)
		}
		if seen := rec.take(); len(seen) != 1 || seen[0] != tc.want {
			t.Errorf("%q: the server got %q, want [%q]", tc.args, seen, tc.want)
		}
	}
	if b, err := os.ReadFile("out.txt"); err != nil || !strings.Contains(string(b), "/flag") {
		t.Errorf("-oout.txt: %q, %v; want the result written to out.txt", b, err)
	}
}

// TestHTTPXFlagsTwoDashes: httpx takes its flags with two dashes too, and
// "--silent" or "--json" got a bare "unknown flag" where "-silent" got the
// hint, and "--probe" was taken for a typo of --proxy. Each gets the hint
// of its one-dash form, on the subcommands too; fanout's own long flags
// and near misses are read as before.
func TestHTTPXFlagsTwoDashes(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t)
	target := rec.URL + "/flag"
	safe := []string{"--resolve", "*:80:127.0.0.1", "--resolve", "*:443:127.0.0.1", "--retries", "0", "-q"}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--silent", target}, "--silent is httpx's flag, not fanout's; here: -q"},
		{[]string{target, "--json"}, "--json is httpx's flag, not fanout's; here: -f jsonl"},
		{[]string{"--threads=50", target}, "--threads is httpx's flag, not fanout's; here: -c N"},
		{[]string{"--probe", target}, "--probe is httpx's flag, not fanout's; fanout does that anyway"},
		{[]string{"--or", target}, "--or is katana's flag"},
		{[]string{"demo", "--n", "1", "--hosts", "1", "--json"}, "--json is httpx's flag"},
		{[]string{"--acept", "200", target}, "unknown flag: --acept (did you mean --accept?)"}, // not httpx's
	} {
		args := append(append([]string{}, safe...), tc.args...)
		code, out, errOut := runCLI(t, "", args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.says) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, errOut, ExitUsage, tc.says)
		}
		if seen := rec.take(); len(seen) > 0 {
			t.Errorf("%q: the server got %q, want no request", tc.args, seen)
		}
	}
	code, _, errOut := runCLI(t, "", "runs", "--db", t.TempDir()+"/none.db", "--json")
	if code != ExitUsage || !strings.Contains(errOut, "here: -f jsonl") {
		t.Errorf("runs --json: exit %d, stderr %q; want %d and the hint", code, errOut, ExitUsage)
	}
}

// TestHTTPXFlagsNotInCompletion: a shell asking for completions of a line
// that holds an httpx flag gets its completions, not the refusal (found in
// review of the change).
func TestHTTPXFlagsNotInCompletion(t *testing.T) {
	code, out, errOut := runCLI(t, "", "__complete", "-silent", "")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != ExitOK || !strings.HasPrefix(lines[len(lines)-1], ":") || strings.Contains(errOut, "httpx") {
		t.Errorf("__complete -silent '': exit %d, stdout %q, stderr %q; want cobra's completion answer", code, out, errOut)
	}
}
