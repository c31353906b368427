package cli

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// natsAccess is one way of giving the distributed commands a server and
// its secrets: flags, environment, and user information in the URL.
type natsAccess struct {
	args     []string
	env      map[string]string
	userinfo string // "user:password@" or "token@", put into the URL
	urlInEnv bool   // the URL comes from $FANOUT_NATS, not --nats
}

// apply sets a's environment for the rest of the test and returns the
// flags that go with it.
func (a natsAccess) apply(t *testing.T, hostURL string) []string {
	t.Helper()
	for _, k := range []string{"FANOUT_NATS", "FANOUT_NATS_TOKEN", "FANOUT_NATS_CREDS"} {
		t.Setenv(k, a.env[k])
	}
	u := strings.Replace(hostURL, "nats://", "nats://"+a.userinfo, 1)
	if a.urlInEnv {
		t.Setenv("FANOUT_NATS", u)
		return a.args
	}
	return append([]string{"--nats", u}, a.args...)
}

// TestDistConnectionSecurity runs submit, worker, collect --db, status and
// runs against servers that require a token, a user and password, TLS,
// mutual TLS, or operator JWT credentials: with the right secret the run
// completes; without it, or with a wrong one, the command fails with one
// line that names the flag to fix. No secret appears in any output, in the
// database's runs table, or anywhere in the database's bytes.
func TestDistConnectionSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server per case")
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<title>ok</title>")
	}))
	defer web.Close()
	targets := []string{web.URL + "/a", web.URL + "/b", web.URL + "/c"}

	const token = "tok-4f9c2e7d1b"
	const password = "pw-8d3a6c0e5f"
	ca, other := newTestCA(t, "ca"), newTestCA(t, "other")
	clientCert, clientKey, clientKeyPEM := ca.issue("client", x509.ExtKeyUsageClientAuth)
	strangerCert, strangerKey, strangerKeyPEM := other.issue("stranger", x509.ExtKeyUsageClientAuth)
	op := newOperator(t)
	creds, credsSecrets := op.creds("alice", op.account)
	stranger, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	badCreds, badCredsSecrets := op.creds("mallory", stranger)
	seed, _ := op.account.Seed()
	// A plain nkey user, as a server's authorization { users: [{nkey: U...}] }
	// lists it, with its seed alone in a file (nk -gen user).
	nkUser, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	nkPub, _ := nkUser.PublicKey()
	nkSeed, _ := nkUser.Seed()
	nkFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(nkFile, append(nkSeed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	otherUser, _ := nkeys.CreateUser()
	otherSeed, _ := otherUser.Seed()
	otherFile := filepath.Join(t.TempDir(), "other.nk")
	if err := os.WriteFile(otherFile, append(otherSeed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	accountSeedFile := filepath.Join(t.TempDir(), "account.nk")
	if err := os.WriteFile(accountSeedFile, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	const garbage = "SUAGARBAGESEEDTHATMUSTNOTBEPRINTED"
	malformed := filepath.Join(t.TempDir(), "malformed.creds")
	if err := os.WriteFile(malformed, []byte("-----BEGIN NATS USER JWT-----\n"+garbage+"\n------END NATS USER JWT------\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pemBody := func(p string) string { return strings.Split(p, "\n")[1] } // a line of the key itself

	type refused struct {
		name string
		how  natsAccess
		want string // in the one-line error: the flag to fix
	}
	tests := []struct {
		name    string
		server  func(*server.Options)
		good    natsAccess
		bad     []refused
		secrets []string
	}{
		{
			name:   "token flag",
			server: func(o *server.Options) { o.Authorization = token },
			good:   natsAccess{args: []string{"--token", token}},
			bad: []refused{
				{"none", natsAccess{}, "$FANOUT_NATS_TOKEN"},
				{"wrong", natsAccess{args: []string{"--token", "tok-wrong-0000"}}, "--token"},
				{"creds instead", natsAccess{args: []string{"--creds", creds}}, "--creds"},
			},
			secrets: []string{token, "tok-wrong-0000"},
		},
		{
			name:   "token and URL from the environment",
			server: func(o *server.Options) { o.Authorization = token },
			good:   natsAccess{env: map[string]string{"FANOUT_NATS_TOKEN": token}, urlInEnv: true},
			bad: []refused{
				{"wrong", natsAccess{env: map[string]string{"FANOUT_NATS_TOKEN": "tok-wrong-1111"}, urlInEnv: true}, "$FANOUT_NATS_TOKEN"},
			},
			secrets: []string{token, "tok-wrong-1111"},
		},
		{
			name:   "token in the URL",
			server: func(o *server.Options) { o.Authorization = token },
			good:   natsAccess{userinfo: token + "@"},
			bad: []refused{
				{"wrong", natsAccess{userinfo: "tok-wrong-2222@"}, "URL"},
			},
			secrets: []string{token, "tok-wrong-2222"},
		},
		{
			name:   "user and password in the URL",
			server: func(o *server.Options) { o.Username, o.Password = "fanout", password },
			good:   natsAccess{userinfo: "fanout:" + password + "@", urlInEnv: true},
			bad: []refused{
				{"none", natsAccess{}, "user:password"},
				{"wrong", natsAccess{userinfo: "fanout:pw-wrong-3333@"}, "URL"},
			},
			secrets: []string{password, "pw-wrong-3333"},
		},
		{
			name:   "TLS",
			server: serverTLS(t, ca, nil),
			good:   natsAccess{args: []string{"--tls-ca", ca.File}},
			bad: []refused{
				{"no CA", natsAccess{}, "--tls-ca"},
				{"other CA", natsAccess{args: []string{"--tls-ca", other.File}}, "--tls-ca"},
			},
		},
		{
			name:   "mutual TLS",
			server: serverTLS(t, ca, ca),
			good:   natsAccess{args: []string{"--tls-ca", ca.File, "--tls-cert", clientCert, "--tls-key", clientKey}},
			bad: []refused{
				{"no client certificate", natsAccess{args: []string{"--tls-ca", ca.File}}, "--tls-cert"},
				{"certificate of another CA", natsAccess{args: []string{"--tls-ca", ca.File, "--tls-cert", strangerCert, "--tls-key", strangerKey}}, "--tls-cert"},
				{"certificate without key", natsAccess{args: []string{"--tls-ca", ca.File, "--tls-cert", clientCert}}, "--tls-key"},
			},
			secrets: []string{pemBody(clientKeyPEM), pemBody(strangerKeyPEM)},
		},
		{
			name:   "creds flag",
			server: op.server,
			good:   natsAccess{args: []string{"--creds", creds}},
			bad: []refused{
				{"none", natsAccess{}, "--creds"},
				{"user of an unknown account", natsAccess{args: []string{"--creds", badCreds}}, "--creds"},
				{"missing file", natsAccess{args: []string{"--creds", creds + ".missing"}}, "--creds"},
				{"malformed file", natsAccess{args: []string{"--creds", malformed}}, "--creds"},
				{"token instead", natsAccess{args: []string{"--token", token}}, "--token"},
			},
			secrets: append(append([]string{string(seed), token, garbage}, credsSecrets...), badCredsSecrets...),
		},
		{
			name:   "nkey seed in --creds",
			server: func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: nkPub}} },
			good:   natsAccess{args: []string{"--creds", nkFile}},
			bad: []refused{
				{"none", natsAccess{}, "--creds"},
				{"another user's seed", natsAccess{args: []string{"--creds", otherFile}}, "--creds"},
				{"an account's seed", natsAccess{args: []string{"--creds", accountSeedFile}}, "--creds"},
			},
			secrets: []string{string(nkSeed), string(otherSeed), string(seed)},
		},
		{
			name:    "creds from the environment",
			server:  op.server,
			good:    natsAccess{env: map[string]string{"FANOUT_NATS_CREDS": creds}},
			bad:     []refused{{"user of an unknown account", natsAccess{env: map[string]string{"FANOUT_NATS_CREDS": badCreds}}, "$FANOUT_NATS_CREDS"}},
			secrets: append(append([]string{}, credsSecrets...), badCredsSecrets...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startSecureNATS(t, tt.server)
			for _, r := range tt.bad {
				conn := r.how.apply(t, url)
				code, out, errOut := runCLI(t, "", append([]string{"status"}, conn...)...)
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				if code != ExitUsage || len(lines) != 1 || !strings.Contains(errOut, r.want) {
					t.Errorf("%s: status: exit %d, stderr %q; want exit %d and one line naming %s", r.name, code, errOut, ExitUsage, r.want)
				}
				t.Logf("%s: %s", r.name, strings.TrimSpace(errOut))
				noSecret(t, r.name+": status", out+errOut, tt.secrets)
			}
			roundTrip(t, tt.good.apply(t, url), targets, tt.secrets)
		})
	}
}

// roundTrip submits targets, serves them with a worker, collects them into
// a database and asks for the status, all through conn; it fails on any
// error and on any secret in any output or in the database.
func roundTrip(t *testing.T, conn []string, targets []string, secrets []string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "runs.db")
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "", append(args, conn...)...)
		if code != want {
			t.Fatalf("fanout %s: exit %d, want %d\n%s%s", args[0], code, want, out, errOut)
		}
		noSecret(t, args[0], out+errOut, secrets)
		return out + errOut
	}
	run(ExitOK, append([]string{"submit", "--run", "sec", "--lease-ttl", "1s"}, targets...)...)
	run(ExitOK, "worker", "--run", "sec", "--exit-when-done", "-c", "4")
	if out := run(ExitOK, "collect", "--run", "sec", "--follow", "--db", db); !strings.Contains(out, fmt.Sprintf("collected %d results", len(targets))) {
		t.Errorf("collect: %q, want %d results collected", out, len(targets))
	}
	if out := run(ExitOK, "status", "--run", "sec"); !strings.Contains(out, "done") {
		t.Errorf("status: %q", out)
	}
	run(ExitOK, "status")
	code, out, errOut := runCLI(t, "", "runs", "--db", db, "-f", "jsonl")
	if code != ExitOK || !strings.Contains(out, `"nats-run":"sec"`) {
		t.Errorf("runs --db: exit %d, %q %q", code, out, errOut)
	}
	noSecret(t, "runs", out+errOut, secrets)
	files, _ := filepath.Glob(db + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		noSecret(t, filepath.Base(f), string(b), secrets)
	}
}

func noSecret(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the secret %q:\n%s", where, s, text)
		}
	}
}
