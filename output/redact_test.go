package output

import "testing"

func TestHideUserinfo(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://alice:pw@a.example/x", "https://alice:xxxxx@a.example/x"},
		{"https://token@a.example/", "https://xxxxx@a.example/"},
		{"HTTP://alice:pw@a.example/", "http://alice:xxxxx@a.example/"},
		{"ftp://alice:pw@a.example/", "ftp://alice:xxxxx@a.example/"}, // an authority's user info, whatever the scheme
		{"alice:pw@a.example", "alice:xxxxx@a.example"},               // a bare host
		{"alice:pw@a.example:8080/x", "alice:xxxxx@a.example:8080/x"},
		{"https://a.example/@user", "https://a.example/@user"},
		{"https://a.example/?to=b@c.example", "https://a.example/?to=b@c.example"},
		{"a.example", "a.example"},
		{"a.example:8080/x@y", "a.example:8080/x@y"},
		{"http://%zz@a.example/", "http://%zz@a.example/"}, // unparseable: as given (and invalid anyway)
		// No user info: an address after a scheme without "//".
		{"mailto:docs@docs.internal", "mailto:docs@docs.internal"},
		{"MAILTO:docs@docs.internal?subject=x", "MAILTO:docs@docs.internal?subject=x"},
		{"xmpp:alice@chat.example", "xmpp:alice@chat.example"},
		// A bare host's user, which fanout sends: a token written so.
		{"docs@docs.internal", "xxxxx@docs.internal"},
		{"ghp_token@a.example/x", "xxxxx@a.example/x"},
	} {
		if got := HideUserinfo(c.in); got != c.want {
			t.Errorf("HideUserinfo(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
