package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// docCache holds the JSON documents of one core; they change only with the
// snapshot, so they are rendered once per reload, not per request.
type docCache struct {
	p atomic.Pointer[docs]
}

type docs struct {
	core     *core.Core
	metadata []byte
	jwks     []byte
}

func (d *docCache) get(cr *core.Core) (*docs, error) {
	if cur := d.p.Load(); cur != nil && cur.core == cr {
		return cur, nil
	}
	md, err := json.Marshal(renderMetadata(cr))
	if err != nil {
		return nil, fmt.Errorf("oauth: render metadata: %w", err)
	}
	ks, err := renderJWKS(cr.Snap)
	if err != nil {
		return nil, err
	}
	next := &docs{core: cr, metadata: md, jwks: ks}
	d.p.Store(next)
	return next, nil
}

// renderMetadata builds the RFC 8414 document; it lists only what really works.
func renderMetadata(cr *core.Core) map[string]any {
	iss := cr.Snap.Issuer
	scopes := map[string]bool{}
	for _, cl := range cr.Snap.Clients {
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
	return map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + TokenPath,
		"jwks_uri":                              iss + JWKSPath,
		"introspection_endpoint":                iss + IntrospectPath,
		"revocation_endpoint":                   iss + RevokePath,
		"userinfo_endpoint":                     iss + UserinfoPath,
		"grant_types_supported":                 cr.GrantTypes(),
		"response_types_supported":              []string{},
		"scopes_supported":                      scopeList,
		"token_endpoint_auth_methods_supported": append(append([]string{}, confidential...), config.AuthNone),
		"token_endpoint_auth_signing_alg_values_supported":         signingAlgs,
		"introspection_endpoint_auth_methods_supported":            confidential,
		"introspection_endpoint_auth_signing_alg_values_supported": signingAlgs,
		"revocation_endpoint_auth_methods_supported":               append(append([]string{}, confidential...), config.AuthNone),
		"revocation_endpoint_auth_signing_alg_values_supported":    signingAlgs,
	}
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

func (h *Handler) serveDoc(c *gin.Context, pick func(*docs) []byte) {
	d, err := h.docs.get(h.Current())
	if err != nil {
		h.Logger.Error("rendering a discovery document failed", "error", err)
		writeError(c.Writer, http.StatusInternalServerError, "server_error", "The document could not be rendered.")
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", pick(d))
}

// metadata serves RFC 8414 at both well-known paths.
func (h *Handler) metadata(c *gin.Context) {
	h.serveDoc(c, func(d *docs) []byte { return d.metadata })
}

// jwks serves the JWK Set (RFC 7517 §5).
func (h *Handler) jwks(c *gin.Context) {
	h.serveDoc(c, func(d *docs) []byte { return d.jwks })
}
