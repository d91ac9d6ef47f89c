package loginid

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
)

// LoginID's error codes, and ours where it has none.
const (
	codeUnauthorized       = "unauthorized"           // 401
	codeNotAllowed         = "operation_not_allowed"  // 403
	codeUserNotFound       = "user_not_found"         // 404
	codeNotFound           = "not_found"              // 404, not a user
	codeUserNotActivated   = "user_not_activated"     // 400: deactivating a user who is not active
	codeUserNotDeactivated = "user_not_deactivated"   // 400: activating a user who is not deactivated
	codeInvalidParameter   = "invalid_parameter"      // 400
	codeUserExists         = "user_already_exists"    // 409
	codeUsernameTaken      = "user_exists"            // 409 of register/fido2/init and /complete
	codeTooLarge           = "request_too_large"      // 413
	codeLastCredential     = "last_active_credential" // 400
	codeCredentialNotFound = "credential_not_found"   // 404
	codeInvalidCode        = "invalid_code"           // 400
)

// writeError is the surface's one error writer: LoginID's
// {"code","message"}. 401s carry a Bearer challenge.
func writeError(c *gin.Context, status int, code, message string) {
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="latchkey"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"code": code, "message": message})
}

func unauthorized(c *gin.Context, message string) {
	writeError(c, http.StatusUnauthorized, codeUnauthorized, message)
}

func forbidden(c *gin.Context, message string) {
	writeError(c, http.StatusForbidden, codeNotAllowed, message)
}

func badParameter(c *gin.Context, message string) {
	writeError(c, http.StatusBadRequest, codeInvalidParameter, message)
}

// fail answers a failure of the server's side: 503 with Retry-After when
// retrying may help (the database did not answer, the bound on password
// hashes stayed full), else 500. Either body says only
// {"message":"Internal server error"} and the request id; the cause goes
// to the log.
func (h *handler) fail(c *gin.Context, err error) {
	rid := c.Writer.Header().Get("X-Request-Id")
	status := http.StatusInternalServerError
	if surface.IsUnavailable(err) {
		status = http.StatusServiceUnavailable
		surface.Unavailable(c)
	}
	h.log.Error("LoginID request failed on the server side", "route", c.FullPath(), "status", status, "request_id", rid, "error", err)
	c.AbortWithStatusJSON(status, gin.H{"message": "Internal server error", "request_id": rid})
}

// dbError marks an unexpected error of a database operation (a user read
// or write, the transaction) as core.ErrUnavailable: the request may
// succeed once the database answers again.
func dbError(op string, err error) error {
	if surface.IsUnavailable(err) {
		return err
	}
	return fmt.Errorf("loginid: %s: %w: %w", op, core.ErrUnavailable, err)
}

// bodyError answers a body that Bind refused: 413 or 400.
func bodyError(c *gin.Context, err error) {
	var be *surface.BodyError
	if errors.As(err, &be) && be.Status() == http.StatusRequestEntityTooLarge {
		writeError(c, http.StatusRequestEntityTooLarge, codeTooLarge, be.Message)
		return
	}
	if be != nil {
		badParameter(c, be.Message)
		return
	}
	badParameter(c, "The request body is not valid.")
}

// validationMessage is every problem of a refused user, in one sentence.
func validationMessage(err error) string {
	var ve *accounts.ValidationError
	if errors.As(err, &ve) {
		msgs := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			msgs[i] = p.Message
		}
		return "The user cannot be created: " + strings.Join(msgs, "; ") + "."
	}
	return "The user cannot be created: " + strings.TrimPrefix(err.Error(), "accounts: ") + "."
}
