package cli

import (
	"strings"
	"testing"
)

// TestNATSSecretsNotInHelpOrURLErrors checks the two places a password in a
// --nats URL escaped redaction: --help, whose default for --nats is
// $FANOUT_NATS, and the error for a URL the client cannot parse (the
// parser quotes the URL) or one without a scheme (which url.Parse takes
// for a scheme "user" and no user information, while the NATS client
// connects with it as nats://user:password@).
func TestNATSSecretsNotInHelpOrURLErrors(t *testing.T) {
	dead := "127.0.0.1:" + closedPort(t)
	t.Setenv("FANOUT_NATS", "nats://fanout:pw-help-5150@"+dead)
	for _, cmd := range []string{"submit", "worker", "collect", "status"} {
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != ExitOK || !strings.Contains(out, "redacted@"+dead) {
			t.Errorf("%s --help: exit %d, want 0 and the URL of $FANOUT_NATS redacted:\n%s%s", cmd, code, out, errOut)
		}
		noSecret(t, cmd+" --help", out+errOut, []string{"pw-help-5150"})
	}
	t.Setenv("FANOUT_NATS", "")
	for _, tc := range []struct {
		url, secret string
		code        int
	}{
		{"nats://fanout:pw%zz-5151@" + dead, "5151", ExitUsage},
		{"nats://fanout:pw 5152@" + dead, "5152", ExitUsage},
		{"nats://fanout:pw-5153@" + dead + ",nats://fanout:pw%zz-5154@" + dead, "515", ExitUsage},
		{"fanout:pw-5155@" + dead, "pw-5155", ExitIncomplete}, // it parses: nothing answers there
	} {
		code, out, errOut := runCLI(t, "", "status", "--nats", tc.url)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != tc.code || len(lines) != 1 {
			t.Errorf("status --nats %q: exit %d, stderr %q; want exit %d and one line", tc.url, code, errOut, tc.code)
		}
		noSecret(t, "status --nats "+tc.url, out+errOut, []string{tc.secret})
		t.Logf("%s", strings.TrimSpace(errOut))
	}
}
