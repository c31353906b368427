package ipv4

import "testing"

func TestAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"127.0.0.1", false}, {"10.0.0.255", false}, {"example.com", false}, {"a0x1.com", false},
		{"0xdead.example", false}, {"cafe", false}, {"1.2.3.4.example", false},
		{"127.1", true}, {"2130706433", true}, {"0127.0.0.1", true}, {"127.0.0.1.", true},
		{"256.0.0.1", true}, {"1.2.3.4.5", true}, {"0x7f.0.0.1", true}, {"0x7f000001", true},
		{"0x7f.1", true}, {"0x7f.0.0.1.", true},
	} {
		if got := Ambiguous([]byte(tc.name)); got != tc.want {
			t.Errorf("Ambiguous(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
