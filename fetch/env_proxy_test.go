package fetch

import (
	"strings"
	"testing"
)

// TestEnvProxyChecked: a malformed $HTTPS_PROXY or $HTTP_PROXY fails
// NewClient with its variable named, where every target used to fail on
// its own (a typo such as "http//proxy:3128" sent them all to a proxy
// host named "http"). Scheme-less values are net/http's http:// ones.
func TestEnvProxyChecked(t *testing.T) {
	for _, c := range []struct {
		name, value, err string
	}{
		{"HTTPS_PROXY", "http//proxy:3128", `$HTTPS_PROXY "http//proxy:3128": not a proxy URL`},
		{"https_proxy", "ftp://proxy:21", `$https_proxy "ftp://proxy:21": scheme must be`},
		{"HTTP_PROXY", "http://proxy:99999", `$HTTP_PROXY "http://proxy:99999": port out of range`},
		{"HTTP_PROXY", "http://u:s3cret@proxy:3128/x", `$HTTP_PROXY "http://u:xxxxx@proxy:3128/x": not a proxy URL`},
		{"HTTPS_PROXY", "127.0.0.1:3128", ""},
		{"HTTPS_PROXY", "http://127.0.0.1:3128/", ""},
		{"HTTP_PROXY", "socks5h://127.0.0.1:1080", ""},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			clearProxyEnv(t)
			t.Setenv(c.name, c.value)
			cl, err := NewClient(testOptions())
			if c.err == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				cl.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("NewClient error %v, want %q", err, c.err)
			}
		})
	}
	for _, c := range []struct{ name, also, value string }{
		// NO_PROXY=* uses no proxy at all: a malformed one is no error.
		{"no proxy", "NO_PROXY", "*"},
		// The upper-case name wins, as in net/http: a malformed
		// lower-case one beside it is never used.
		{"shadowed", "HTTPS_PROXY", "http://127.0.0.1:3128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearProxyEnv(t)
			t.Setenv("https_proxy", "http//typo")
			t.Setenv(c.also, c.value)
			cl, err := NewClient(testOptions())
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			cl.Close()
		})
	}
}

// TestShownProxyHidesPassword: a proxy's password never reaches a message,
// whatever its form: with a scheme, without one (it then parses with the
// user as the scheme), or unparseable.
func TestShownProxyHidesPassword(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://u:s3cret@proxy:3128", "http://u:xxxxx@proxy:3128"},
		{"u:s3cret@proxy:3128/x", "u:xxxxx@proxy:3128/x"},
		{"u:s3cret@proxy:99999", "u:xxxxx@proxy:99999"},
		{"http://u:s3cret@proxy:3128/%zz", "http://u:xxxxx@proxy:3128/%zz"},
		{"proxy:3128", "proxy:3128"},
	} {
		if got := shownProxy(c.in); got != c.want {
			t.Errorf("shownProxy(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	t.Setenv("HTTPS_PROXY", "u:s3cret@proxy:3128/x")
	if _, err := NewClient(testOptions()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("NewClient error %v: want an error without the password", err)
	}
}

// clearProxyEnv empties, for the test, the variables that name proxies.
func clearProxyEnv(t *testing.T) {
	for _, n := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(n, "")
	}
}
