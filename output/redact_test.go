package output

import "testing"

func TestHideUserinfo(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://alice:pw@a.example/x", "https://alice:xxxxx@a.example/x"},
		{"https://token@a.example/", "https://xxxxx@a.example/"},
		{"alice:pw@a.example", "alice:xxxxx@a.example"}, // a bare host
		{"https://a.example/@user", "https://a.example/@user"},
		{"https://a.example/?to=b@c.example", "https://a.example/?to=b@c.example"},
		{"a.example", "a.example"},
		{"http://%zz@a.example/", "http://%zz@a.example/"}, // unparseable: as given (and invalid anyway)
	} {
		if got := HideUserinfo(c.in); got != c.want {
			t.Errorf("HideUserinfo(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
