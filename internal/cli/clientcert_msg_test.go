package cli

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientCertKeyErrors: a key that does not fit, in the --cert file,
// names that file once; an encrypted key says it is encrypted (it read
// "failed to parse private key", and the message about encrypted keys
// came only for a file with no key at all).
func TestClientCertKeyErrors(t *testing.T) {
	ca := newTestCA(t, "clients")
	certFile, _, _ := ca.issue("probe", x509.ExtKeyUsageClientAuth)
	_, _, otherKey := ca.issue("other", x509.ExtKeyUsageClientAuth)
	dir := t.TempDir()
	cert, _ := os.ReadFile(certFile)
	mismatched := filepath.Join(dir, "mismatched.pem")
	if err := os.WriteFile(mismatched, append(cert, otherKey...), 0o600); err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(dir, "encrypted.pem")
	enc := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})
	if err := os.WriteFile(encrypted, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, "legacy.pem")
	leg := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: make([]byte, 32)})
	if err := os.WriteFile(legacy, leg, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"--cert", mismatched}, "--cert " + mismatched + ": private key does not match", "--cert " + mismatched + ", "},
		{[]string{"--cert", certFile, "--key", encrypted}, "--key " + encrypted + ": the private key is encrypted", ""},
		{[]string{"--cert", certFile, "--key", legacy}, "--key " + legacy + ": the private key is encrypted", ""},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"http://127.0.0.1:9/"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || tc.not != "" && strings.Contains(errOut, tc.not) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut, ExitUsage, tc.want)
		}
	}
}
