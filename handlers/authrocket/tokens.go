package authrocket

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
)

// tokenFields are a signup token's fields as a create request sends them,
// under "user_token". A JSON null is an absent field.
type tokenFields struct {
	RealmID              string  `json:"realm_id"`
	Username             string  `json:"username"`
	Email                string  `json:"email"`
	FirstName            string  `json:"first_name"`
	LastName             string  `json:"last_name"`
	Password             string  `json:"password"`
	PasswordConfirmation *string `json:"password_confirmation"`
	// CredentialType is AuthRocket's auto-generated field; a client that
	// sends it may send only "password".
	CredentialType string `json:"credential_type"`
}

// createTokenBody is the body of POST /v1/user_tokens.
type createTokenBody struct {
	UserToken *tokenFields `json:"user_token"`
}

// tokenObject is AuthRocket's signup token object, its fields in the
// seed's order; names and an e-mail that were not given are null. It never
// carries the password.
type tokenObject struct {
	ID             string  `json:"id"`
	FirstName      *string `json:"first_name"`
	LastName       *string `json:"last_name"`
	Email          *string `json:"email"`
	Username       string  `json:"username"`
	Object         string  `json:"object"`
	CredentialType string  `json:"credential_type"`
}

func newTokenObject(t *accounts.SignupToken) tokenObject {
	return tokenObject{
		ID:             t.ID,
		FirstName:      nullIfEmpty(t.FirstName),
		LastName:       nullIfEmpty(t.LastName),
		Email:          nullIfEmpty(t.Email),
		Username:       t.Username,
		Object:         "user_token",
		CredentialType: t.CredentialType,
	}
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// msgTokenNotFound answers every lookup of a signup token that is not
// there: the cases are not told apart.
const msgTokenNotFound = "No such signup token: it is unknown, expired, discarded or already converted."

// createToken serves POST /v1/user_tokens: validation with every problem at
// once (422), then the password hashed and the token stored (201).
func (h *handler) createToken(c *gin.Context) {
	realm, ok := h.authorize(c, permWrite)
	if !ok {
		return
	}
	var body createTokenBody
	if !bindJSON(c, &body) {
		return
	}
	in := body.UserToken
	if in == nil {
		writeErrors(c, http.StatusBadRequest, `The body must be a JSON object {"user_token": {…}} with the signup token's fields.`)
		return
	}
	if !checkRealmID(c, realm, in.RealmID) {
		return
	}
	fields := accounts.NewSignupToken{
		Username: in.Username, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
		Password: in.Password, PasswordConfirmation: in.PasswordConfirmation,
	}
	if in.CredentialType != "" && in.CredentialType != accounts.CredentialPassword {
		// Reported with the other problems (found without the database),
		// and nothing hashed or stored.
		msgs, _ := messages(realm, h.signups.ValidateSignupToken(realm, fields))
		writeErrors(c, http.StatusUnprocessableEntity, append(msgs, "Credential type is not included in the list")...)
		return
	}
	tok, err := h.signups.CreateSignupToken(c.Request.Context(), realm, fields)
	if msgs, invalid := messages(realm, err); invalid {
		writeErrors(c, http.StatusUnprocessableEntity, msgs...)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newTokenObject(tok))
}

// getToken serves GET /v1/user_tokens/:id: 200 with the token, 404 when it
// is unknown or expired.
func (h *handler) getToken(c *gin.Context) {
	realm, ok := h.authorize(c, permRead)
	if !ok {
		return
	}
	tok, err := h.signups.GetSignupToken(c.Request.Context(), realm.ID, c.Param("id"))
	switch {
	case errors.Is(err, accounts.ErrSignupTokenNotFound):
		writeErrors(c, http.StatusNotFound, msgTokenNotFound)
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusOK, newTokenObject(tok))
	}
}

// discardToken serves DELETE /v1/user_tokens/:id: 204, or 404 when the
// token is unknown or expired. Its siblings stay.
func (h *handler) discardToken(c *gin.Context) {
	realm, ok := h.authorize(c, permWrite)
	if !ok {
		return
	}
	err := h.signups.DiscardSignupToken(c.Request.Context(), realm.ID, c.Param("id"))
	switch {
	case errors.Is(err, accounts.ErrSignupTokenNotFound):
		writeErrors(c, http.StatusNotFound, msgTokenNotFound)
	case err != nil:
		h.fail(c, err)
	default:
		c.Status(http.StatusNoContent)
	}
}
