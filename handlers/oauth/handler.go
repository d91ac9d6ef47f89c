package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

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

// Handler serves the OAuth endpoints.
type Handler struct {
	// Current returns the core of the config snapshot in force.
	Current func() *core.Core
	// Logger receives server-side failures (never secrets).
	Logger *slog.Logger
	// OnIssued, if set, is called once per token response with its grant type.
	OnIssued func(grantType string)

	docs docCache
}

// Register mounts the endpoints on r.
func (h *Handler) Register(r gin.IRoutes) {
	r.POST(TokenPath, h.token)
	r.POST(IntrospectPath, h.introspect)
	r.POST(RevokePath, h.revoke)
	r.GET(JWKSPath, h.jwks)
	r.GET(MetadataPath, h.metadata)
	r.GET(OpenIDMetadataPath, h.metadata)
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
	h.Logger.Log(c.Request.Context(), level, "request failed on the server side",
		"path", c.FullPath(), "request_id", c.Writer.Header().Get("X-Request-Id"),
		"error", rfc.ErrorField, "detail", rfc.GetDescription(), "cause", rfc.Cause())
}
