package output

import (
	"net/url"
	"strings"
)

// HideUserinfo hides the credentials in URL or target a, which may lack
// its scheme (a bare host): the password of user:password, the whole of a
// token given as the user, each as "xxxxx". What people are shown of a
// run (the summary, runs, report) passes through it; the results keep the
// URL as it was.
//
// User info is only in an authority: after "scheme://", or in a bare host
// (user:password@host, token@host). "mailto:docs@a.example" has none:
// hiding "docs@a.example" as the password there made the summary disagree
// with the result line for nothing. A bare docs@a.example is hidden as
// before: fanout fetches it as a bare host, and sends "docs" as the user,
// as it would a token written so.
func HideUserinfo(a string) string {
	at := strings.IndexByte(a, '@')
	if at < 0 {
		return a
	}
	prefix := ""
	if !strings.Contains(a[:at], "://") {
		user, _, hasPass := strings.Cut(a[:at], ":")
		if hasPass && addressSchemes[strings.ToLower(user)] {
			return a
		}
		prefix = "http://" // a bare host: parsed as one, shown as given
	}
	u, err := url.Parse(prefix + a)
	if err != nil || u.User == nil {
		return a
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx")
	}
	return strings.TrimPrefix(u.String(), prefix)
}

// addressSchemes are URI schemes without "//" whose text holds an address
// with an '@' (RFC 6068, 7565, 3261, 6121, 3859, 3860, 5538, 2392), which
// would otherwise read as user:password@host.
var addressSchemes = map[string]bool{
	"mailto": true, "acct": true, "sip": true, "sips": true, "xmpp": true,
	"im": true, "pres": true, "news": true, "mid": true, "cid": true,
}
