package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// renderMetadata builds the RFC 8414 (and OpenID Connect Discovery 1.0 §3)
// document; it lists only what really works: the authorization endpoint
// and its fields only when a surface serves it.
func renderMetadata(snap *config.Snapshot, grantTypes []string, browser *Browser) map[string]any {
	iss := snap.Issuer
	scopes := map[string]bool{}
	for _, cl := range snap.Clients {
		for _, s := range cl.Scopes {
			scopes[s] = true
		}
	}
	scopeList := make([]string, 0, len(scopes))
	for s := range scopes {
		scopeList = append(scopeList, s)
	}
	sort.Strings(scopeList)
	confidential := []string{config.AuthSecretBasic, config.AuthSecretPost, config.AuthPrivateKeyJWT}
	signingAlgs := []string{config.AlgES256, config.AlgRS256, config.AlgEdDSA}
	if browser == nil {
		grantTypes = slices.DeleteFunc(slices.Clone(grantTypes), func(g string) bool { return g == config.GrantAuthorizationCode })
	}
	md := map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + TokenPath,
		"jwks_uri":                              iss + JWKSPath,
		"introspection_endpoint":                iss + IntrospectPath,
		"revocation_endpoint":                   iss + RevokePath,
		"userinfo_endpoint":                     iss + UserinfoPath,
		"grant_types_supported":                 grantTypes,
		"response_types_supported":              []string{},
		"scopes_supported":                      scopeList,
		"token_endpoint_auth_methods_supported": append(append([]string{}, confidential...), config.AuthNone),
		"token_endpoint_auth_signing_alg_values_supported":         signingAlgs,
		"introspection_endpoint_auth_methods_supported":            confidential,
		"introspection_endpoint_auth_signing_alg_values_supported": signingAlgs,
		"revocation_endpoint_auth_methods_supported":               append(append([]string{}, confidential...), config.AuthNone),
		"revocation_endpoint_auth_signing_alg_values_supported":    signingAlgs,
	}
	if browser != nil {
		var idAlgs []string
		for _, k := range snap.SigningKeys {
			if !slices.Contains(idAlgs, k.Alg) {
				idAlgs = append(idAlgs, k.Alg)
			}
		}
		md["authorization_endpoint"] = iss + browser.AuthorizationPath
		md["response_types_supported"] = []string{"code"}
		md["response_modes_supported"] = []string{"query"}
		md["code_challenge_methods_supported"] = []string{"S256"}
		md["id_token_signing_alg_values_supported"] = idAlgs
		md["subject_types_supported"] = []string{"public"}
		md["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp", "amr",
			"preferred_username", "name", "given_name", "family_name", "email"}
		md["authorization_response_iss_parameter_supported"] = true
		md["prompt_values_supported"] = browser.Prompts
		if browser.EndSessionPath != "" {
			md["end_session_endpoint"] = iss + browser.EndSessionPath
		}
	}
	return md
}

// renderJWKS renders every configured signing key's public half, so tokens signed
// by a key being rotated out still verify.
func renderJWKS(snap *config.Snapshot) ([]byte, error) {
	set := jose.JSONWebKeySet{}
	for _, k := range snap.SigningKeys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.KID, Algorithm: k.Alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("oauth: render JWKS: %w", err)
	}
	return b, nil
}

// serveDoc writes a pre-rendered discovery document.
func serveDoc(c *gin.Context, doc []byte) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", doc)
}

// serveMetadata serves RFC 8414 at both well-known paths.
func (h *Handler) serveMetadata(c *gin.Context) { serveDoc(c, h.metadata) }

// serveJWKS serves the JWK Set (RFC 7517 §5).
func (h *Handler) serveJWKS(c *gin.Context) { serveDoc(c, h.jwks) }
