package loginid

// The fido2 routes: passkey registration, sign-in and credential add,
// each on the ceremonies of accounts (see passkeys.go for the bodies and
// their checks).

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// registerFido2Init serves POST /register/fido2/init {username,
// options?{display_name, roaming_authenticator, register_session}}: the
// creation options of a new user's first passkey, with its credential
// uuid; 409 when the username is taken. The ceremony is stored in the
// transaction that uses up the nonce.
func (h *handler) registerFido2Init(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok || !checkName(c, "username", b.Username) || !checkDisplayName(c, b.Options.DisplayName) {
		return
	}
	if cl.namesOther(b.Username, "") || (cl.token != nil && cl.token.UserID != "") {
		forbidden(c, errOtherUser)
		return
	}
	var opts *accounts.RegistrationOptions
	var takenErr error
	if !h.commit(c, cl, "start the registration", func(ctx context.Context) error {
		var err error
		opts, err = pk.BeginRegistration(ctx, a.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: b.Username,
			DisplayName: b.Options.DisplayName, CrossPlatform: b.Options.RoamingAuthenticator})
		if errors.Is(err, accounts.ErrUsernameTaken) || errors.Is(err, accounts.ErrEmailTaken) {
			takenErr = err // nothing was stored; the token's nonce is used up
			return nil
		}
		return err
	}) {
		return
	}
	if takenErr != nil {
		usernameTaken(c, takenErr)
		return
	}
	c.JSON(http.StatusOK, gin.H{"attestation_payload": newAttestationPayload(opts)})
}

// registerFido2Complete serves POST /register/fido2/complete {username,
// attestation_payload, options?{credential_name}}: the registration is
// verified (its ceremony used up, refused or not) and the user's token
// signed first; one transaction then inserts the user and the passkey and
// stores the token. A refusal leaves no user and no credential.
func (h *handler) registerFido2Complete(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok || !checkName(c, "username", b.Username) {
		return
	}
	in, ok := registrationFinish(c, b, accounts.CeremonyRegister)
	if !ok {
		return
	}
	client, ok := h.issuingClient(c, a)
	if !ok {
		return
	}
	v, err := pk.VerifyRegistration(c.Request.Context(), a.realm, in)
	if err != nil {
		h.ceremonyFailed(c, err)
		return
	}
	pending, ok := h.prepareToken(c, client, v.UserID, b.Username)
	if !ok {
		return
	}
	var user *accounts.User
	var cred *accounts.Credential
	var issued *core.Issued
	var takenErr error
	if !h.commit(c, cl, "register the user", func(ctx context.Context) error {
		var err error
		if user, cred, err = pk.InsertRegistration(ctx, v); err != nil {
			if errors.Is(err, accounts.ErrUsernameTaken) || errors.Is(err, accounts.ErrEmailTaken) {
				takenErr = err // taken since the init: nothing stored
				return nil
			}
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	if takenErr != nil {
		usernameTaken(c, takenErr)
		return
	}
	c.JSON(http.StatusOK, newAuthResponse(a, user, cred, issued.AccessToken))
}

// authenticateFido2Init serves POST /authenticate/fido2/init {username}:
// the request options of a passkey sign-in. An unknown user, a
// deactivated one and one without passkeys get the same shape with a
// decoy credential (accounts keeps it the same on every call and replica).
func (h *handler) authenticateFido2Init(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok || !checkName(c, "username", b.Username) || h.tokenNamesOther(c, cl, a, b.Username) {
		return
	}
	var opts *accounts.AssertionOptions
	if !h.commit(c, cl, "start the sign-in", func(ctx context.Context) error {
		var err error
		opts, err = pk.BeginLogin(ctx, a.realm, b.Username)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"assertion_payload": newAssertionPayload(opts.Options)})
}

// authenticateFido2Complete serves POST /authenticate/fido2/complete
// {username, assertion_payload}: the assertion is verified (401 when it is
// refused) and the user's token signed, then one transaction uses the
// ceremony up, stores the passkey's counter and the token.
func (h *handler) authenticateFido2Complete(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok || !checkName(c, "username", b.Username) {
		return
	}
	in, ok := assertionFinish(c, accounts.CeremonyLogin, b.Username, b.AssertionPayload, func(f string) string { return "assertion_payload." + f })
	if !ok {
		return
	}
	client, ok := h.issuingClient(c, a)
	if !ok {
		return
	}
	login, err := pk.VerifyLogin(c.Request.Context(), a.realm, in)
	if err != nil {
		h.ceremonyFailed(c, err)
		return
	}
	pending, ok := h.prepareToken(c, client, login.User.ID, login.User.Username)
	if !ok {
		return
	}
	var issued *core.Issued
	var refusal error
	if !h.commit(c, cl, "store the token", func(ctx context.Context) error {
		if err := pk.Consume(ctx, login); err != nil {
			return keepRefusal(err, &refusal)
		}
		var err error
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	if refusal != nil {
		h.ceremonyFailed(c, refusal)
		return
	}
	c.JSON(http.StatusOK, newAuthResponse(a, login.User, login.Credential, issued.AccessToken))
}

// addFido2ByCode serves POST /credentials/fido2/init/code {username |
// user_id, authentication_code{code, type}, options?}: the creation
// options of a passkey for an existing user, authorized by a one-time code
// of purpose add_credential. Every check of the request comes first; then
// one transaction uses up the nonce, presents the code (a wrong one counts
// as an attempt and commits, nothing else; so does one not authorized
// yet), redeems (deletes) it and starts the ceremony — the code is used
// up only when the ceremony is stored with it.
func (h *handler) addFido2ByCode(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok {
		return
	}
	code := b.AuthenticationCode
	switch {
	case code.Code == "" || code.Type == "":
		badParameter(c, `Send the code as {"authentication_code": {"code": "…", "type": "short|long|phrase"}}.`)
		return
	case !checkDisplayName(c, b.Options.DisplayName):
		return
	}
	u, ok := h.lookup(c, cl, a, b.Username, b.UserID)
	if !ok {
		return
	}
	refusedCode := func() {
		writeError(c, http.StatusBadRequest, codeInvalidCode, "The code is wrong, expired, already used or out of attempts.")
	}
	if u.Status != accounts.StatusActive {
		refusedCode()
		return
	}
	presented, err := accounts.PresentCode(a.realm.ID, u.ID, code.Type, accounts.PurposeAddCredential, code.Code)
	switch {
	case errors.Is(err, accounts.ErrCodeRefused):
		refusedCode()
		return
	case err != nil:
		badParameter(c, "The code is not valid: "+reasonOf(err)+".")
		return
	}
	var opts *accounts.RegistrationOptions
	var codeErr error
	if !h.commit(c, cl, "start adding the passkey", func(ctx context.Context) error {
		// The code must have been authorized before; redeeming deletes it.
		switch err := h.users.RedeemCode(ctx, presented); {
		case errors.Is(err, accounts.ErrCodeRefused), errors.Is(err, accounts.ErrCodeNotAuthorized):
			codeErr = err // the attempt is counted: commit
			return nil
		case err != nil:
			return err
		}
		var err error
		opts, err = pk.BeginRegistration(ctx, a.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u,
			DisplayName: b.Options.DisplayName, CrossPlatform: b.Options.RoamingAuthenticator})
		return err
	}) {
		return
	}
	switch {
	case errors.Is(codeErr, accounts.ErrCodeNotAuthorized):
		writeError(c, http.StatusBadRequest, codeInvalidCode,
			"The code is not authorized yet: authorize it first with POST /codes/"+code.Type+"/authorize, or generate it with authorize: true.")
		return
	case codeErr != nil:
		refusedCode()
		return
	}
	c.JSON(http.StatusOK, gin.H{"attestation_payload": newAttestationPayload(opts)})
}

// addFido2Force serves POST /credentials/fido2/init/force {username |
// user_id, options?}: the creation options of a passkey for an existing,
// active user, on the backend's word (scope credentials.force, or the
// SDKs' credentials.force_add).
func (h *handler) addFido2Force(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok || !checkDisplayName(c, b.Options.DisplayName) {
		return
	}
	u, ok := h.lookup(c, cl, a, b.Username, b.UserID)
	if !ok {
		return
	}
	if u.Status != accounts.StatusActive {
		writeError(c, http.StatusBadRequest, codeUserNotActivated, "The user is deactivated.")
		return
	}
	var opts *accounts.RegistrationOptions
	if !h.commit(c, cl, "start adding the passkey", func(ctx context.Context) error {
		var err error
		opts, err = pk.BeginRegistration(ctx, a.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u,
			DisplayName: b.Options.DisplayName, CrossPlatform: b.Options.RoamingAuthenticator})
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"attestation_payload": newAttestationPayload(opts)})
}

// addFido2Complete serves POST /credentials/fido2/complete {username |
// user_id, attestation_payload, options?{credential_name}}: the passkey
// of an add (by code or by force) is verified, then inserted and the
// user's token stored in one transaction. The user is the ceremony's; the
// body's username or user_id must name them.
func (h *handler) addFido2Complete(c *gin.Context, cl *caller) {
	b, a, pk, ok := h.beginFido2(c, cl)
	if !ok {
		return
	}
	switch {
	case b.Username == "" && b.UserID == "":
		badParameter(c, "Name the user by username or by user_id.")
		return
	case b.Username != "" && b.UserID != "":
		badParameter(c, "Name the user by username or by user_id, not both.")
		return
	}
	in, ok := registrationFinish(c, b, accounts.CeremonyAddPasskey)
	if !ok {
		return
	}
	client, ok := h.issuingClient(c, a)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	v, err := pk.VerifyRegistration(ctx, a.realm, in)
	if err != nil {
		h.ceremonyFailed(c, err)
		return
	}
	pending, ok := h.prepareToken(c, client, v.UserID, v.Username)
	if !ok {
		return
	}
	var u *accounts.User
	var cred *accounts.Credential
	var issued *core.Issued
	if !h.commit(c, cl, "add the passkey", func(ctx context.Context) error {
		var err error
		if u, cred, err = pk.InsertRegistration(ctx, v); err != nil {
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, newAuthResponse(a, u, cred, issued.AccessToken))
}

// usernameTaken answers a passkey registration (init or complete) whose
// username is taken: 409 user_exists, the passkey routes' code
// (register/password answers user_already_exists, LoginID's code there).
func usernameTaken(c *gin.Context, err error) {
	p, _ := accounts.TakenProblem(err)
	writeError(c, http.StatusConflict, codeUsernameTaken, "The user cannot be created: "+p.Message+".")
}
