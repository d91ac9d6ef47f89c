package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/secrethash"
)

// Clients, their browser sign-in settings and their secrets.

func (l *loader) clientList(in []fileClient) []*Client {
	ids := map[string]string{}
	l.clients = map[string]*Client{}
	out := make([]*Client, 0, len(in))
	for i, fc := range in {
		path := fmt.Sprintf("clients[%d]", i)
		c := &Client{
			ID:              fc.ID,
			Realm:           fc.Realm,
			AuthMethod:      fc.AuthMethod,
			GrantTypes:      fc.GrantTypes,
			Scopes:          fc.Scopes,
			Audience:        fc.Audience,
			AccessTokenTTL:  fc.AccessTokenTTL,
			RefreshTokenTTL: fc.RefreshTokenTTL,

			Name:                     fc.Name,
			RedirectURIs:             fc.RedirectURIs,
			PostLogoutRedirectURIs:   fc.PostLogoutRedirectURIs,
			RequirePKCE:              fc.RequirePKCE || fc.AuthMethod == AuthNone,
			Consent:                  fc.Consent,
			IDTokenSignedResponseAlg: fc.IDTokenSignedResponseAlg,
		}
		if l.checkName(fc.ID, path+".id", "client id") && l.unique(ids, fc.ID, path+".id", "client id") {
			l.clients[fc.ID] = c
			l.clientIDs = append(l.clientIDs, fc.ID)
		}
		l.realmRef(fc.Realm, path+".realm")

		switch fc.AuthMethod {
		case AuthSecretBasic, AuthSecretPost:
			c.SecretHash = l.secret(fc.Secret, fc.SecretHash, path, "secret", "auth_method "+fc.AuthMethod)
		case AuthNone, AuthPrivateKeyJWT:
			for _, k := range []struct{ key, val string }{{"secret", fc.Secret}, {"secret_hash", fc.SecretHash}} {
				if k.val != "" {
					l.errorf(path+"."+k.key, "auth_method %s takes no secret; remove %s", fc.AuthMethod, k.key)
				}
			}
		case "":
			l.errorf(path+".auth_method", "required (%s)", orList(authMethods))
		default:
			l.errorf(path+".auth_method", "unknown auth_method %q (want %s)", fc.AuthMethod, orList(authMethods))
		}
		c.PublicKeys = l.publicKeys(fc.PublicKeys, path+".public_keys", allAlgs)
		switch {
		case fc.AuthMethod == AuthPrivateKeyJWT && len(fc.PublicKeys) == 0:
			l.errorf(path+".public_keys", "auth_method private_key_jwt needs at least one public key ({alg, pem | pem_file})")
		case fc.AuthMethod != AuthPrivateKeyJWT && len(fc.PublicKeys) > 0:
			l.errorf(path+".public_keys", "public_keys are used only with auth_method private_key_jwt; remove them or change auth_method")
		}

		if len(fc.GrantTypes) == 0 {
			l.errorf(path+".grant_types", "at least one grant type is required (%s)", orList(grantTypes))
		}
		l.listOf(fc.GrantTypes, path+".grant_types", "grant type", grantTypes)
		if i := slices.Index(fc.GrantTypes, GrantClientCredentials); i >= 0 && fc.AuthMethod == AuthNone {
			l.errorf(fmt.Sprintf("%s.grant_types[%d]", path, i), "a public client (auth_method none) cannot use client_credentials")
		}
		l.scopes(fc.Scopes, path+".scopes")
		l.listOf(fc.Audience, path+".audience", "audience", nil)
		l.nonNegative(path+".access_token_ttl", fc.AccessTokenTTL)
		l.nonNegative(path+".refresh_token_ttl", fc.RefreshTokenTTL)
		l.browserClient(fc, path)
		out = append(out, c)
	}
	return out
}

// browserClient checks the keys of the authorization code flow (browser
// sign-in): redirect URIs, PKCE, consent.
func (l *loader) browserClient(fc fileClient, path string) {
	codeGrant := slices.Index(fc.GrantTypes, GrantAuthorizationCode)
	switch {
	case codeGrant >= 0 && len(fc.RedirectURIs) == 0:
		l.errorf(fmt.Sprintf("%s.grant_types[%d]", path, codeGrant),
			"the authorization_code grant needs at least one redirect_uris entry (the exact URIs the client's sign-ins return to)")
	case codeGrant < 0 && len(fc.RedirectURIs) > 0:
		l.errorf(path+".redirect_uris", "redirect_uris are used only with the authorization_code grant; add it to grant_types or remove them")
	}
	if codeGrant < 0 && len(fc.PostLogoutRedirectURIs) > 0 {
		l.errorf(path+".post_logout_redirect_uris", "post_logout_redirect_uris are used only with the authorization_code grant; add it to grant_types or remove them")
	}
	l.redirectURIs(fc.RedirectURIs, path+".redirect_uris")
	l.redirectURIs(fc.PostLogoutRedirectURIs, path+".post_logout_redirect_uris")
	if !fc.RequirePKCE && fc.AuthMethod == AuthNone {
		l.errorf(path+".require_pkce", "a public client (auth_method none) always needs PKCE: it has no secret, so the code verifier is the only proof that the code is its own; remove require_pkce: false")
	}
	switch fc.Consent {
	case ConsentNone, ConsentRequired:
	default:
		l.errorf(path+".consent", "must be none or required, got %q", fc.Consent)
	}
	if strings.ContainsFunc(fc.Name, unicode.IsControl) || !utf8.ValidString(fc.Name) {
		l.errorf(path+".name", "must be text without control characters")
	}
}

// blockedSchemes can run code or read local files in a browser; they are
// never redirect URIs.
var blockedSchemes = []string{"javascript", "data", "vbscript", "file", "blob", "about"}

// redirectURIs checks redirect URIs (RFC 6749 §3.1.2, RFC 9700 §2.1, RFC
// 8252): absolute, no fragment, https — or http on a loopback host, or a
// custom scheme of a native app — no user info, unique. They are compared
// by exact string match, so they are kept as written.
func (l *loader) redirectURIs(uris []string, path string) {
	l.listOf(uris, path, "redirect URI", nil)
	for i, raw := range uris {
		p := fmt.Sprintf("%s[%d]", path, i)
		if raw == "" {
			continue // reported by listOf
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			l.errorf(p, "%q is not a valid URI (no spaces or control characters)", raw)
		case u.Scheme == "":
			l.errorf(p, "%q is not absolute: write the scheme and host, like https://app.example.com/callback", raw)
		case strings.Contains(raw, "#"):
			l.errorf(p, "%q has a fragment (#…); redirect URIs may not have one (RFC 6749 §3.1.2)", raw)
		case u.User != nil:
			l.errorf(p, "%q has user info (user@); remove it", raw)
		case slices.Contains(blockedSchemes, strings.ToLower(u.Scheme)):
			l.errorf(p, "%q: the %s scheme is never a redirect URI", raw, u.Scheme)
		case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
			l.errorf(p, "%q has no host", raw)
		case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			l.errorf(p, "%q is http on a host that is not loopback; use https (http is allowed only for 127.0.0.1, [::1] or localhost, RFC 8252 §7.3)", raw)
		}
	}
}

// idTokenAlgs checks that each client's id_token_signed_response_alg names
// the alg of a configured signing key.
func (l *loader) idTokenAlgs(clients []*Client, keys []fileKey) {
	var have []string
	for _, k := range keys {
		if slices.Contains(allAlgs, k.Alg) && !slices.Contains(have, k.Alg) {
			have = append(have, k.Alg)
		}
	}
	for i, c := range clients {
		alg := c.IDTokenSignedResponseAlg
		path := fmt.Sprintf("clients[%d].id_token_signed_response_alg", i)
		switch {
		case alg == "":
		case !slices.Contains(allAlgs, alg):
			l.errorf(path, "unknown alg %q (want %s)", alg, orList(allAlgs))
		case !slices.Contains(have, alg):
			l.errorf(path, "no signing key has alg %s (signing_keys have %s); add one (latchkey keys generate --alg %s) after the active key", alg, listOr(have, "none"), alg)
		}
	}
}

// sessions checks the browser session lifetimes.
func (l *loader) sessions(s fileSessions) Sessions {
	l.positive("sessions.ttl", s.TTL)
	l.positive("sessions.idle_timeout", s.IdleTimeout)
	if s.IdleTimeout > s.TTL && s.TTL > 0 {
		l.errorf("sessions.idle_timeout", "must not be longer than sessions.ttl (%s), got %s", s.TTL, s.IdleTimeout)
	}
	return Sessions(s)
}

// secret returns the hash to keep for a secret given as plain text (field)
// or as a hash (field+"_hash"): exactly one of them is required. A plain
// secret is hashed here and never kept; it and a slow hash are warned about.
func (l *loader) secret(plain, hash, path, field, who string) string {
	hashField := field + "_hash"
	switch {
	case plain != "" && hash != "":
		l.errorf(path+"."+field, "give either %s or %s, not both", hashField, field)
	case hash != "":
		if err := secrethash.Check(hash); err != nil {
			l.errorf(path+"."+hashField, "not a valid hash: %s", strings.TrimPrefix(err.Error(), "secrethash: "))
			return ""
		}
		if secrethash.IsSlow(hash) {
			l.warnf(path+"."+hashField, "argon2id hash: every request with this %s costs a slow hash; for a generated secret store its sha256: hash (latchkey secret hash --generate)", field)
		}
		return hash
	case plain != "":
		h, err := secrethash.Hash(plain)
		if err != nil {
			l.errorf(path+"."+field, "cannot hash the %s: %v", field, err)
			return ""
		}
		l.warnf(path+"."+field, "plain %s in the config file; store %s (latchkey secret hash) instead", field, hashField)
		return h
	default:
		l.errorf(path, "%s needs %s (from latchkey secret hash) or %s", who, hashField, field)
	}
	return ""
}

// MaxEnvironmentGUIDLength is the longest environment guid, in characters.
const MaxEnvironmentGUIDLength = 255
