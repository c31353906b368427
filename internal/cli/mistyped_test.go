package cli

import (
	"cmp"
	"strings"
	"testing"
)

// TestMistypedCommand: a first argument that reads as a subcommand
// mistyped was fetched as a bare host, a DNS lookup of "reprot"; it is a
// usage error that names the command meant, as is a flag's name written
// as a command ("fanout version"). Words that are not near a
// command, and anything written as a host or URL, are still targets.
func TestMistypedCommand(t *testing.T) {
	t.Parallel()
	root := newRoot(Env{})
	root.InitDefaultVersionFlag() // as Execute does
	for _, tc := range []struct {
		args []string
		says string // "" for no refusal
	}{
		{[]string{"reprot", "last"}, "did you mean report?"},
		{[]string{"rusn"}, "did you mean runs?"},
		{[]string{"shwo", "1"}, "did you mean show?"},
		{[]string{"reusme"}, "did you mean resume?"},
		{[]string{"version"}, "did you mean --version?"}, // as go and kubectl have it
		{[]string{"quiet"}, "did you mean --quiet?"},
		{[]string{"intranet"}, ""},
		{[]string{"localhost"}, ""},
		{[]string{"report.example"}, ""},
		{[]string{"reprot:8080"}, ""},
		{[]string{"https://reprot/"}, ""},
		{[]string{"example.com", "reprot"}, ""}, // only the first argument is a command's place
	} {
		err := mistypedCommand(root, tc.args)
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("%q: refused (%v), want it taken as a target", tc.args, err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "https://"+tc.args[0]+"/")):
			t.Errorf("%q: %v, want a refusal saying %q and how to fetch the host", tc.args, err, tc.says)
		}
	}
	// Through Main: exit 2, nothing fetched. (--resolve keeps a regression
	// from looking the word up in DNS: it would go to a closed loopback port.)
	if code, _, errOut := runCLI(t, "", "--resolve", "*:443:127.0.0.1", "--resolve", "*:80:127.0.0.1", "--retries", "0", "reprot", "last"); code != ExitUsage || !strings.Contains(errOut, "did you mean report?") {
		t.Errorf("fanout reprot last: exit %d, stderr %q; want %d and the suggestion", code, errOut, ExitUsage)
	}
	if code, _, errOut := runCLI(t, "", "--resolve", "*:443:127.0.0.1", "--resolve", "*:80:127.0.0.1", "--retries", "0", "version"); code != ExitUsage || !strings.Contains(errOut, "did you mean --version?") {
		t.Errorf("fanout version: exit %d, stderr %q; want %d and the suggestion", code, errOut, ExitUsage)
	}
}

// TestMistypedFlag: an unknown flag near a known one names it ("unknown
// flag: --acept" said nothing more); a hidden flag (the demo's -i) is not
// suggested, nor a flag too far from what was typed.
func TestMistypedFlag(t *testing.T) {
	t.Parallel()
	const target = "http://127.0.0.1:1/" // never fetched: the flags do not parse
	for _, tc := range []struct {
		args []string
		says string // "" for no suggestion
	}{
		{[]string{"--acept", "200", target}, "unknown flag: --acept (did you mean --accept?)"},
		{[]string{"--acept=200", target}, "(did you mean --accept?)"},
		{[]string{"--concurency", "3", target}, "(did you mean --concurrency?)"},
		{[]string{"--retires", "1", target}, "(did you mean --retries?)"}, // two letters swapped
		{[]string{"--Timeout", "1", target}, "(did you mean --timeout?)"},
		{[]string{"--xyz", "1", target}, ""},
		{[]string{"--ab", target}, ""},
		{[]string{"report", "--tilte", "x"}, "(did you mean --title?)"},
		{[]string{"resume", "--timout", "1s"}, "(did you mean --timeout?): resume takes --db"},
		{[]string{"demo", "--inptu", "x"}, ""},
		// One dash, as Go's flag package writes long flags. (httpx's,
		// refused before pflag reads them, are TestHTTPXFlags'.)
		{[]string{"-acept", "200", target}, "(did you mean --accept?)"},
		{[]string{"-max-body", "1", target}, "(did you mean --max-body?)"},
		{[]string{"-zzzz", target}, ""},
	} {
		code, _, errOut := runCLI(t, "", tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, "unknown") ||
			tc.says == "" && strings.Contains(errOut, "did you mean") || !strings.Contains(errOut, tc.says) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, ExitUsage, cmp.Or(tc.says, "no suggestion"))
		}
	}
}
