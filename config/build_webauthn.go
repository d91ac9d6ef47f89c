package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The webauthn section: the relying party of passkey ceremonies.
//
// Values written in the file are checked always. Defaults come from the
// issuer, and a default that passkeys cannot use (an IP address, an http
// origin on a host other than localhost) is an error only when a realm has
// passkeys: true, reported at that realm's passkeys key, so that a config
// without passkeys stays valid whatever its issuer.

// Limits of the webauthn section.
const (
	MinWebAuthnTimeout     = 10 * time.Second
	MaxWebAuthnTimeout     = 10 * time.Minute
	MaxRPDisplayNameLength = 255
	maxDNSNameLength       = 253
	maxDNSLabelLength      = 63
)

var userVerifications = []string{UserVerificationRequired, UserVerificationPreferred, UserVerificationDiscouraged}

// firstPasskeyRealm returns the index of the first realm with passkeys, or -1.
func firstPasskeyRealm(realms []fileRealm) int {
	return slices.IndexFunc(realms, func(r fileRealm) bool { return r.Passkeys })
}

// webAuthn validates the webauthn section and fills its defaults from the
// issuer (as build returned it: valid, or an error already reported).
func (l *loader) webAuthn(w fileWebAuthn, issuer string, realms []fileRealm) WebAuthn {
	on := firstPasskeyRealm(realms)
	trigger := fmt.Sprintf("realms[%d].passkeys", on)
	iu := issuerURL(issuer)

	out := WebAuthn{UserVerification: w.UserVerification, Timeout: w.Timeout}

	// rp_id
	rpOK := false
	switch {
	case w.RPID != "":
		out.RPID = strings.ToLower(w.RPID)
		if ip, problem := rpIDProblem(out.RPID); problem != "" {
			if ip {
				l.errorf("webauthn.rp_id", "%q is an IP address, which WebAuthn and browsers refuse as a relying-party id: "+
					"use localhost or a domain name as rp_id, and run the issuer as %s in development", w.RPID, localhostFor(iu))
			} else {
				l.errorf("webauthn.rp_id", "%q %s", w.RPID, problem)
			}
		} else {
			rpOK = true
		}
	case iu != nil:
		out.RPID = strings.ToLower(iu.Hostname())
		ip, problem := rpIDProblem(out.RPID)
		switch {
		case problem == "":
			rpOK = true
		case on < 0:
		case ip:
			l.errorf(trigger, "realm %s has passkeys, but the relying-party id defaults to the issuer's host %s, an IP address, which WebAuthn and browsers refuse: "+
				"use localhost or a domain name as rp_id, and run the issuer as %s in development", realms[on].ID, out.RPID, localhostFor(iu))
		default:
			l.errorf(trigger, "realm %s has passkeys, but the relying-party id defaults to the issuer's host %q, which is not a domain name "+
				"(letters, digits, hyphens and dots): set webauthn.rp_id to the site's domain name", realms[on].ID, out.RPID)
		}
	}

	// rp_display_name
	switch {
	case w.RPDisplayName != "":
		out.RPDisplayName = w.RPDisplayName
		if n := utf8.RuneCountInString(w.RPDisplayName); n > MaxRPDisplayNameLength {
			l.errorf("webauthn.rp_display_name", "may be at most %d characters, got %d; shorten it", MaxRPDisplayNameLength, n)
		}
	case iu != nil:
		out.RPDisplayName = iu.Hostname()
	}

	// origins
	switch {
	case w.Origins != nil:
		out.Origins = l.origins(w.Origins, out.RPID, rpOK && (w.RPID != "" || on >= 0))
		if iu != nil && on >= 0 && !slices.Contains(out.Origins, origin(iu)) {
			l.warnf("webauthn.origins", "does not list the issuer's origin %s, where the login page runs: its passkey sign-in will be refused; add %s to origins",
				origin(iu), origin(iu))
		}
	case iu != nil:
		o := origin(iu)
		out.Origins = []string{o}
		if on >= 0 && rpOK {
			l.defaultOrigin(iu, o, out.RPID, trigger, realms[on].ID)
		}
	}

	if !slices.Contains(userVerifications, w.UserVerification) {
		l.errorf("webauthn.user_verification", "must be %s, got %q", orList(userVerifications), w.UserVerification)
	}
	if w.Timeout < MinWebAuthnTimeout || w.Timeout > MaxWebAuthnTimeout {
		l.errorf("webauthn.timeout", "must be between 10s and 10m (how long a ceremony's challenge lives), got %s", w.Timeout)
	}
	return out
}

// origins checks and normalises the origins written in the file. The host of
// each must be on rpID when matchRP (rpID is valid and either written too, or
// passkeys are on).
func (l *loader) origins(in []string, rpID string, matchRP bool) []string {
	if len(in) == 0 {
		l.errorf("webauthn.origins", "an empty list accepts no origin, so no passkey ceremony could succeed; list the origins, or remove origins: to accept the issuer's origin")
		return []string{}
	}
	if !matchRP {
		rpID = "" // each origin is checked on its own
	}
	seen := map[string]string{}
	out := make([]string, 0, len(in))
	for i, raw := range in {
		path := fmt.Sprintf("webauthn.origins[%d]", i)
		u, msg := parseOrigin(raw)
		if msg != "" {
			l.errorf(path, "%s", msg)
			continue
		}
		o := origin(u)
		if !l.unique(seen, o, path, "origin") {
			continue
		}
		out = append(out, o)
		switch kind, problem := originProblem(u, rpID); kind {
		case originOK:
		case originIP:
			l.errorf(path, "%q %s; use localhost or a domain name, like %s in development", raw, problem, localhostFor(u))
		case originHTTP:
			l.errorf(path, "%q %s; use https (http is allowed only for localhost and *.localhost)", raw, problem)
		case originNotOnRP:
			l.errorf(path, "%q %s; change the origin or webauthn.rp_id", raw, problem)
		default:
			l.errorf(path, "%q %s", raw, problem)
		}
	}
	return out
}

// defaultOrigin checks the issuer's origin o (u) for realm on, whose
// passkeys need it.
func (l *loader) defaultOrigin(u *url.URL, o, rpID, trigger, realm string) {
	kind, problem := originProblem(u, rpID)
	var fix string
	switch kind {
	case originOK:
		return
	case originIP:
		fix = "run the issuer on localhost or a domain name, like " + localhostFor(u) + " in development"
	case originHTTP:
		fix = "serve the issuer over https, or list the https origins of the sign-in pages in webauthn.origins"
	case originNotOnRP:
		fix = "run the issuer on rp_id's host or under it, or list the origins of the sign-in pages in webauthn.origins"
	default:
		fix = "list the origins of the sign-in pages in webauthn.origins"
	}
	l.errorf(trigger, "realm %s has passkeys, but webauthn.origins defaults to the issuer's origin %s, which %s; %s", realm, o, problem, fix)
}

// parseOrigin parses an origin written in the file, or says what is wrong
// with it.
func parseOrigin(raw string) (*url.URL, string) {
	const form = "an origin is scheme://host[:port] only, like https://example.com or http://localhost:8080"
	if raw == "" {
		return nil, "empty origin; " + form
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, fmt.Sprintf("%q is not a valid origin; %s", raw, form)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Sprintf("%q is not an http or https origin; %s", raw, form)
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Sprintf("%q has no host; %s", raw, form)
	case u.User != nil:
		return nil, fmt.Sprintf("%q has user info (user@); %s", raw, form)
	case strings.ContainsAny(raw, "?#") || (u.Path != "" && u.Path != "/"):
		return nil, fmt.Sprintf("%q has a path, query or fragment; %s", raw, form)
	}
	if p := u.Port(); p != "" { // url.Parse allows only digits
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("%q has port %s, not one from 1 to 65535; %s", raw, p, form)
		}
	}
	return u, ""
}

// origin returns the origin of u as a browser serialises it: scheme://host
// in lower case, and :port unless it is the scheme's default.
func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// What keeps passkeys from accepting an origin.
const (
	originOK      = iota
	originIP      // an IP address
	originHost    // another host that is not a domain name
	originHTTP    // http on a host other than localhost
	originNotOnRP // a host that is not rp_id or under it
)

// originProblem says what keeps passkeys from accepting origin u, and how
// (text to follow "which" or the quoted origin); rpID "" skips the rp_id
// rule.
func originProblem(u *url.URL, rpID string) (int, string) {
	host := strings.ToLower(u.Hostname())
	if ip, problem := rpIDProblem(host); ip {
		return originIP, "is on an IP address (WebAuthn and browsers refuse one)"
	} else if problem != "" {
		return originHost, "has a host that " + problem
	}
	if strings.ToLower(u.Scheme) == "http" && !isLocalhost(host) {
		return originHTTP, "is http on a host other than localhost"
	}
	if rpID != "" && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return originNotOnRP, fmt.Sprintf("is not on rp_id %s: its host must be %s or end in .%s (WebAuthn's registrable-suffix rule)", rpID, rpID, rpID)
	}
	return originOK, ""
}

// isLocalhost reports whether host is localhost or under it, where
// browsers treat http as a secure context.
func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// rpIDProblem says why s (in lower case) is not a relying-party id, or "".
// ip reports an IP address, or what a browser would read as one (a name
// whose last label is a number).
func rpIDProblem(s string) (ip bool, problem string) {
	const like = "like example.com or localhost"
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if _, err := netip.ParseAddr(bare); err == nil {
		return true, "is an IP address"
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, ":/?#@") {
		return false, "is not a domain name: write only the host, without scheme, port or path, " + like
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') }) {
		return false, "is not a domain name: use only letters, digits, hyphens and dots, " + like
	}
	if len(s) > maxDNSNameLength {
		return false, fmt.Sprintf("is not a domain name: it is longer than %d characters", maxDNSNameLength)
	}
	labels := strings.Split(s, ".")
	for _, lb := range labels {
		if lb == "" || len(lb) > maxDNSLabelLength || lb[0] == '-' || lb[len(lb)-1] == '-' {
			return false, "is not a domain name: each dot-separated label must be 1 to 63 letters, digits or hyphens, " +
				"not starting or ending with a hyphen, " + like
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return true, "is an IP address"
	}
	return false, ""
}

// issuerURL parses a valid issuer, or returns nil (its error is reported
// by issuer).
func issuerURL(issuer string) *url.URL {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil
	}
	return u
}

// localhostFor is the origin to suggest for development instead of u's:
// http://localhost on u's port.
func localhostFor(u *url.URL) string {
	if u == nil || u.Port() == "" {
		return "http://localhost:PORT"
	}
	return "http://" + net.JoinHostPort("localhost", u.Port())
}

// passkeySigningKey requires an ES256 signing key, active or not, when a
// realm has passkeys: transaction confirmation tokens are ES256 JWTs.
func (l *loader) passkeySigningKey(keys []fileKey, realms []fileRealm) {
	i := firstPasskeyRealm(realms)
	if i < 0 || len(keys) == 0 || slices.ContainsFunc(keys, func(k fileKey) bool { return k.Alg == AlgES256 }) {
		return
	}
	var have []string
	for _, k := range keys {
		if slices.Contains(allAlgs, k.Alg) && !slices.Contains(have, k.Alg) {
			have = append(have, k.Alg)
		}
	}
	l.errorf(fmt.Sprintf("realms[%d].passkeys", i), "realm %s has passkeys, whose transaction confirmations are signed as ES256 JWTs, "+
		"but no signing key is ES256 (signing_keys have %s); add one with latchkey keys generate --alg ES256 (it need not be the first, active key)",
		realms[i].ID, listOr(have, "none"))
}
