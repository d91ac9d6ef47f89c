package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// Paths of the endpoints this package mounts.
const (
	TokenPath           = core.TokenPath
	IntrospectPath      = "/oauth2/introspect"
	RevokePath          = "/oauth2/revoke"
	JWKSPath            = "/.well-known/jwks.json"
	MetadataPath        = "/.well-known/oauth-authorization-server"
	OpenIDMetadataPath  = "/.well-known/openid-configuration"
	wwwAuthenticateBody = `Basic realm="latchkey", charset="UTF-8"`
)

// coreOps are the core operations the OAuth endpoints call.
type coreOps interface {
	Snapshot() *config.Snapshot
	SupportsGrant(grantType string) bool
	GrantTypes() []string
	TokenRequest(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error)
	WriteTokenResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder)
	WriteTokenError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error)
	AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (*core.Client, error)
	Introspect(ctx context.Context, caller *core.Client, token, hint string) (map[string]any, error)
	RevokeToken(ctx context.Context, caller *core.Client, token, hint string) error
	Authenticate(ctx context.Context, token string) (*core.Principal, error)
}

// Handler serves the OAuth endpoints of one snapshot.
type Handler struct {
	core     coreOps
	log      *slog.Logger
	onIssued func(grantType string)
	// metadata and jwks are rendered once: they change only with the snapshot.
	metadata, jwks []byte
}

// Options are a Handler's settings besides its core.
type Options struct {
	// Logger receives server-side failures (never secrets).
	Logger *slog.Logger
	// OnIssued, if set, is called once per token response with its grant type.
	OnIssued func(grantType string)
	// Browser, when set, says that a surface serves the authorization
	// endpoint (browser sign-in), so discovery lists it and what it
	// supports; without it the authorization_code grant is not listed.
	Browser *Browser
}

// Browser describes the browser sign-in endpoints a surface serves, for
// discovery; paths are below the issuer.
type Browser struct {
	AuthorizationPath string
	// EndSessionPath is the RP-initiated logout endpoint, "" if none.
	EndSessionPath string
	// Prompts are the prompt values the surface honours.
	Prompts []string
}

// New builds the handler of cr's snapshot, rendering its discovery
// documents once.
func New(cr coreOps, opts Options) (*Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{core: cr, log: opts.Logger, onIssued: opts.OnIssued}
	var err error
	if h.metadata, err = json.Marshal(renderMetadata(cr.Snapshot(), cr.GrantTypes(), opts.Browser)); err != nil {
		return nil, fmt.Errorf("oauth: render metadata: %w", err)
	}
	if h.jwks, err = renderJWKS(cr.Snapshot()); err != nil {
		return nil, err
	}
	return h, nil
}

// Register mounts the endpoints on r.
func (h *Handler) Register(r gin.IRoutes) {
	r.POST(TokenPath, h.token)
	r.POST(IntrospectPath, h.introspect)
	r.POST(RevokePath, h.revoke)
	r.GET(JWKSPath, h.serveJWKS)
	r.GET(MetadataPath, h.serveMetadata)
	r.GET(OpenIDMetadataPath, h.serveMetadata)
	r.GET(UserinfoPath, h.userinfo)
	r.POST(UserinfoPath, h.userinfo)
}

// parseForm reads the form body under the body limit the server set. It
// answers 413 for an oversized body and 400 for a malformed one, and reports
// whether the caller may go on.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is larger than the 64 KiB limit.")
		return false
	}
	writeError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid application/x-www-form-urlencoded form.")
	return false
}

// writeError writes an RFC 6749 §5.2 error body.
func writeError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticateBody)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// writeJSON writes v with the no-store headers RFC 6749 §5.1 asks for.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// challengeWriter adds WWW-Authenticate to a 401 that fosite writes (RFC 6749
// §5.2 requires it; fosite omits it) and Retry-After to a 503.
type challengeWriter struct {
	http.ResponseWriter
}

func (w challengeWriter) WriteHeader(status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", wwwAuthenticateBody)
	case http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// logFailure logs errors that are the server's fault (5xx), with the
// request id the middleware put in the response header.
func (h *Handler) logFailure(c *gin.Context, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField < 500 {
		return
	}
	level := slog.LevelError
	if errors.Is(err, context.Canceled) || c.Request.Context().Err() != nil {
		level = slog.LevelDebug // the client went away; nothing for an operator to fix
	}
	h.log.Log(c.Request.Context(), level, "request failed on the server side",
		"path", c.FullPath(), "request_id", c.Writer.Header().Get("X-Request-Id"),
		"error", rfc.ErrorField, "detail", rfc.GetDescription(), "cause", rfc.Cause())
}
