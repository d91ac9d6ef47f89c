package config

import (
	"regexp"
	"strings"
)

// route is one method and path of a compatibility surface, relative to its
// prefix; "{name}" is a path parameter.
type route struct{ method, path string }

// surfaceRoutes lists each surface's routes, to find prefixes
// under which two surfaces, or a surface and the core, would claim the same
// request.
var surfaceRoutes = map[string][]route{
	"workapi": {
		{"POST", "/users"}, {"GET", "/users/me"}, {"POST", "/users/reauth"},
	},
	"loginid": {
		{"POST", "/manage/users"}, {"POST", "/manage/users/retrieve"}, {"POST", "/manage/users/delete"},
		{"DELETE", "/manage/users/{user_id}"},
		{"PUT", "/manage/users/{user_id}/activate"}, {"PUT", "/manage/users/{user_id}/deactivate"},
		{"POST", "/register/password"}, {"POST", "/register/fido2/init"},
		{"POST", "/authenticate/password"}, {"POST", "/authenticate/fido2/init"},
		{"GET", "/credentials"}, {"POST", "/credentials/list"}, {"POST", "/credentials/rename"}, {"POST", "/credentials/revoke"},
		{"POST", "/credentials/fido2/init/code"}, {"POST", "/credentials/fido2/init/force"},
		{"POST", "/codes/{type}/generate"}, {"POST", "/codes/{type}/authorize"},
		{"POST", "/codes/{type}/invalidate-all"},
		{"POST", "/tx"}, {"POST", "/tx/init"}, {"GET", "/certs"},
	},
	"authrocket": {
		{"POST", "/v1/user_tokens"}, {"GET", "/v1/user_tokens/{id}"}, {"DELETE", "/v1/user_tokens/{id}"},
		{"POST", "/v1/users"},
	},
	"legacy": {
		{"POST", "/users"}, {"POST", "/users/token"}, {"POST", "/users/token/refresh"},
		{"DELETE", "/users/token"}, {"PATCH", "/users"},
	},
}

// Paths the OAuth core and the browser sign-in pages serve, whatever the
// method: the trees with everything under them.
var (
	coreTrees = []string{"/oauth2/", "/.well-known/", "/login/"}
	corePaths = []string{"/healthz", "/readyz", "/metrics", "/login", "/consent"}
)

const corePathsText = "/oauth2/*, /.well-known/*, /healthz, /readyz, /metrics, /login, /login/*, /consent"

type namedSurface struct {
	name   string
	prefix string
	on     bool
}

// surfacesOf lists the surfaces in a fixed order.
func surfacesOf(c Compat) []namedSurface {
	return []namedSurface{
		{"workapi", c.WorkAPI.Prefix, c.WorkAPI.Enabled},
		{"loginid", c.LoginID.Prefix, c.LoginID.Enabled},
		{"authrocket", c.AuthRocket.Prefix, c.AuthRocket.Enabled},
		{"legacy", c.Legacy.Prefix, c.Legacy.Enabled},
	}
}

var prefixRe = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

func (l *loader) checkPrefix(prefix, path string) {
	if prefix != "" && !prefixRe.MatchString(prefix) {
		l.errorf(path, `must be "" or start with "/", with no trailing "/" and only letters, digits and . _ ~ - between slashes (like /workapi), got %q`, prefix)
	}
}

// checkRoutes reports each enabled surface whose prefix puts one of its
// routes on a core path or on a route of an earlier enabled surface.
func (l *loader) checkRoutes(c Compat) {
	surfaces := surfacesOf(c)
	for j, b := range surfaces {
		if !b.on {
			continue
		}
		path := "compat." + b.name + ".prefix"
		if r, ok := onCore(b); ok {
			l.errorf(path, "prefix %q puts %s %s on a path of the OAuth core (%s); choose another prefix", b.prefix, r.method, b.prefix+r.path, corePathsText)
		}
		for _, a := range surfaces[:j] {
			if !a.on {
				continue
			}
			if r, ok := overlap(a, b); ok {
				l.errorf(path, "surfaces %s (prefix %q) and %s (prefix %q) both route %s %s; move one to another prefix or disable it", a.name, a.prefix, b.name, b.prefix, r.method, b.prefix+r.path)
			}
		}
	}
}

// onCore returns the first route of s that lands on a core path.
func onCore(s namedSurface) (route, bool) {
	for _, r := range surfaceRoutes[s.name] {
		full := s.prefix + r.path
		for _, t := range coreTrees {
			if strings.HasPrefix(full, t) {
				return r, true
			}
		}
		for _, p := range corePaths {
			if full == p {
				return r, true
			}
		}
	}
	return route{}, false
}

// overlap returns the first route of b that some request would match
// together with a route of a.
func overlap(a, b namedSurface) (route, bool) {
	for _, rb := range surfaceRoutes[b.name] {
		for _, ra := range surfaceRoutes[a.name] {
			if ra.method == rb.method && samePattern(a.prefix+ra.path, b.prefix+rb.path) {
				return rb, true
			}
		}
	}
	return route{}, false
}

// samePattern reports whether some path matches both patterns: the same
// number of segments, each equal or a parameter on either side.
func samePattern(p, q string) bool {
	ps, qs := strings.Split(p, "/"), strings.Split(q, "/")
	if len(ps) != len(qs) {
		return false
	}
	for i := range ps {
		if ps[i] != qs[i] && !strings.HasPrefix(ps[i], "{") && !strings.HasPrefix(qs[i], "{") {
			return false
		}
	}
	return true
}
