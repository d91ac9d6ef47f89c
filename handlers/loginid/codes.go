package loginid

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// codeBody is the body of the one-time code routes.
type codeBody struct {
	body
	Purpose   string `json:"purpose" form:"purpose"`
	Code      string `json:"code" form:"code"`
	Authorize bool   `json:"authorize" form:"authorize"`
}

type codeAnswer struct {
	Code         string `json:"code"`
	ExpiresAt    string `json:"expires_at"`
	IsAuthorized bool   `json:"is_authorized"`
}

// codeRequest reads a code route's body, checks the path's type and the
// purpose (required unless purposeOptional), and reads the user; on
// failure it has answered.
func (h *handler) codeRequest(c *gin.Context, cl *caller, purposeOptional bool) (*codeBody, *actor, *accounts.User, bool) {
	b, a, ok := bindActor(h, c, cl, func(b *codeBody) string { return b.ClientID })
	if !ok {
		return nil, nil, nil, false
	}
	purpose := b.Purpose
	if purpose == "" && purposeOptional {
		purpose = accounts.PurposeTemporaryAuthentication // any valid one: only the type is checked
	}
	if err := accounts.CheckCodeRequest(c.Param("type"), purpose); err != nil {
		badParameter(c, "The code request is not valid: "+reasonOf(err)+".")
		return nil, nil, nil, false
	}
	u, ok := h.lookup(c, cl, a, b.Username, b.UserID)
	if !ok {
		return nil, nil, nil, false
	}
	return b, a, u, true
}

// generateCode serves POST /codes/{type}/generate {username | user_id,
// purpose, authorize?}: a new one-time code for an active user, drawn and
// hashed before the transaction that uses up the nonce and stores it.
func (h *handler) generateCode(c *gin.Context, cl *caller) {
	b, a, u, ok := h.codeRequest(c, cl, false)
	if !ok {
		return
	}
	if u.Status != accounts.StatusActive {
		writeError(c, http.StatusBadRequest, codeUserNotActivated, "The user is deactivated.")
		return
	}
	prepared, err := h.users.PrepareCode(a.realm.ID, u.ID, c.Param("type"), b.Purpose, b.Authorize)
	if err != nil {
		badParameter(c, "The code request is not valid: "+reasonOf(err)+".")
		return
	}
	var code *accounts.Code
	if !h.commit(c, cl, "store the code", func(ctx context.Context) error {
		var err error
		code, err = h.users.InsertCode(ctx, prepared)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, codeAnswer{Code: code.Code, ExpiresAt: code.ExpiresAt.UTC().Format(time.RFC3339), IsAuthorized: code.Authorized})
}

// authorizeCode serves POST /codes/{type}/authorize {username | user_id,
// code, purpose}: a temporary_authentication code is used up and answers
// the user's token {jwt}; an add_credential code is marked authorized,
// {authorized: true}. The token is signed before the transaction; in it the
// nonce is used up and the attempt counted — a wrong code's too, so that
// parallel guesses cannot outrun the limit.
func (h *handler) authorizeCode(c *gin.Context, cl *caller) {
	b, a, u, ok := h.codeRequest(c, cl, false)
	if !ok {
		return
	}
	if b.Code == "" {
		badParameter(c, "code is required.")
		return
	}
	refused := func() {
		writeError(c, http.StatusBadRequest, codeInvalidCode, "The code is wrong, expired, already used or out of attempts.")
	}
	if u.Status != accounts.StatusActive {
		refused()
		return
	}
	presented, err := accounts.PresentCode(a.realm.ID, u.ID, c.Param("type"), b.Purpose, b.Code)
	switch {
	case errors.Is(err, accounts.ErrCodeRefused):
		refused()
		return
	case err != nil:
		badParameter(c, "The code request is not valid: "+reasonOf(err)+".")
		return
	}
	temporary := b.Purpose == accounts.PurposeTemporaryAuthentication
	var pending core.Pending
	if temporary {
		client, ok := h.issuingClient(c, a)
		if !ok {
			return
		}
		if pending, ok = h.prepareToken(c, client, u.ID, u.Username); !ok {
			return
		}
	}
	var issued *core.Issued
	wrong := false
	if !h.commit(c, cl, "use the code", func(ctx context.Context) error {
		err := h.users.UseCode(ctx, presented)
		switch {
		case errors.Is(err, accounts.ErrCodeRefused):
			wrong = true // the attempt is counted: commit
			return nil
		case err != nil || !temporary:
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	switch {
	case wrong:
		refused()
	case temporary:
		c.JSON(http.StatusOK, gin.H{"jwt": issued.AccessToken})
	default:
		c.JSON(http.StatusOK, gin.H{"authorized": true})
	}
}

// invalidateCodes serves POST /codes/{type}/invalidate-all {username |
// user_id, purpose?}: every code of the user — of the purpose when given,
// of any type — is deleted; 204.
func (h *handler) invalidateCodes(c *gin.Context, cl *caller) {
	b, a, u, ok := h.codeRequest(c, cl, true)
	if !ok {
		return
	}
	if h.commit(c, cl, "invalidate the codes", func(ctx context.Context) error {
		return h.users.InvalidateCodes(ctx, a.realm.ID, u.ID, b.Purpose)
	}) {
		c.Status(http.StatusNoContent)
	}
}
