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
func HideUserinfo(a string) string {
	at := strings.IndexByte(a, '@')
	if at < 0 {
		return a
	}
	prefix := ""
	if !strings.Contains(a[:at], "://") {
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
