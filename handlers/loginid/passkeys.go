package loginid

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/handlers/surface"
)

// The passkey (fido2) routes: registration of a new user, sign-in, and a
// passkey added to an existing user by a one-time code or by force. Each
// ceremony is an init, behind the route's guard, and a complete that takes
// no token: the challenge, single-use and bound to its realm, purpose,
// user and credential uuid by accounts.Passkeys, is the proof. Binary
// values on the wire are base64url without padding.

// passkeyOps are the passkey ceremonies the surface runs: accounts.Passkeys
// of the snapshot's relying party.
type passkeyOps interface {
	BeginRegistration(ctx context.Context, realm *config.Realm, in accounts.RegistrationStart) (*accounts.RegistrationOptions, error)
	VerifyRegistration(ctx context.Context, realm *config.Realm, in accounts.RegistrationFinish) (*accounts.VerifiedRegistration, error)
	InsertRegistration(ctx context.Context, v *accounts.VerifiedRegistration) (*accounts.User, *accounts.Credential, error)
	BeginLogin(ctx context.Context, realm *config.Realm, username string) (*accounts.AssertionOptions, error)
	VerifyLogin(ctx context.Context, realm *config.Realm, in accounts.AssertionFinish) (*accounts.PasskeyLogin, error)
	Consume(ctx context.Context, l *accounts.PasskeyLogin) error
	CreateTransaction(ctx context.Context, u *accounts.User, txType, payload, nonce string) (*accounts.Transaction, error)
	Transaction(ctx context.Context, realmID, userID, id string) (*accounts.Transaction, error)
	BeginTransaction(ctx context.Context, realm *config.Realm, u *accounts.User, t *accounts.Transaction) (*accounts.TxOptions, error)
	VerifyTransaction(ctx context.Context, realm *config.Realm, txID string, in accounts.AssertionFinish) (*accounts.ConfirmedTransaction, error)
	ConsumeTransaction(ctx context.Context, ct *accounts.ConfirmedTransaction) error
}

var _ passkeyOps = (*accounts.Passkeys)(nil)

// maxCredentialID is WebAuthn's limit on a credential id, in bytes.
const maxCredentialID = 1023

// passkeysFor returns the ceremonies of a's realm. A realm without
// passkeys is 403 operation_not_allowed on every fido2 and /tx route: the
// request is well formed, but the realm's configuration does not allow
// the operation (LoginID's code for that; 400 would blame the request). On
// failure it has answered.
func (h *handler) passkeysFor(c *gin.Context, a *actor) (passkeyOps, bool) {
	switch {
	case !a.realm.Passkeys:
		forbidden(c, "Passkeys are not enabled for realm "+a.realm.ID+": set passkeys: true on the realm in the configuration to use the fido2 and /tx routes.")
	case h.pk == nil:
		h.fail(c, errors.New("loginid: the realm has passkeys, but the relying party could not be made (see the log of the configuration's load)"))
	default:
		return h.pk, true
	}
	return nil, false
}

// fido2Body is the body of the fido2 routes; each reads its own fields.
type fido2Body struct {
	body
	Options struct {
		DisplayName          string `json:"display_name"`
		RoamingAuthenticator bool   `json:"roaming_authenticator"`
		// RegisterSession is LoginID's request for a session on
		// registration: every complete here answers one, so it changes
		// nothing.
		RegisterSession bool   `json:"register_session"`
		CredentialName  string `json:"credential_name"`
	} `json:"options" form:"-"`
	AuthenticationCode struct {
		Code string `json:"code"`
		Type string `json:"type"`
	} `json:"authentication_code" form:"-"`
	AttestationPayload struct {
		CredentialUUID  string `json:"credential_uuid"`
		CredentialID    string `json:"credential_id"`
		Challenge       string `json:"challenge"`
		ClientData      string `json:"client_data"`
		AttestationData string `json:"attestation_data"`
	} `json:"attestation_payload" form:"-"`
	AssertionPayload assertionAnswer `json:"assertion_payload" form:"-"`
}

// assertionAnswer is an authenticator's answer to a sign-in.
type assertionAnswer struct {
	Challenge         string `json:"challenge"`
	CredentialID      string `json:"credential_id"`
	ClientData        string `json:"client_data"`
	AuthenticatorData string `json:"authenticator_data"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"user_handle"`
}

// beginFido2 reads a fido2 route's body, resolves the actor and checks
// that its realm has passkeys; on failure it has answered.
func (h *handler) beginFido2(c *gin.Context, cl *caller) (*fido2Body, *actor, passkeyOps, bool) {
	b, a, ok := bindActor(h, c, cl, func(b *fido2Body) string { return b.ClientID })
	if !ok {
		return nil, nil, nil, false
	}
	pk, ok := h.passkeysFor(c, a)
	if !ok {
		return nil, nil, nil, false
	}
	return b, a, pk, true
}

// The wire forms of the options a ceremony hands the authenticator.
type (
	// attestationPayload is a registration's creation options, with the
	// uuid the credential will have.
	attestationPayload struct {
		CredentialUUID         string                          `json:"credential_uuid"`
		Challenge              string                          `json:"challenge"`
		RP                     rpEntity                        `json:"rp"`
		User                   userEntity                      `json:"user"`
		PubKeyCredParams       []protocol.CredentialParameter  `json:"pubKeyCredParams"`
		ExcludeCredentials     []descriptor                    `json:"excludeCredentials"`
		AuthenticatorSelection protocol.AuthenticatorSelection `json:"authenticatorSelection"`
		Attestation            string                          `json:"attestation"`
		Timeout                int                             `json:"timeout"`
	}
	rpEntity struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	userEntity struct {
		ID          string `json:"id"` // the user handle, base64url
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	}
	// assertionPayload is a sign-in's or a confirmation's request options.
	assertionPayload struct {
		Challenge        string       `json:"challenge"`
		RPID             string       `json:"rpId"`
		AllowCredentials []descriptor `json:"allowCredentials"`
		Timeout          int          `json:"timeout"`
		UserVerification string       `json:"userVerification"`
	}
	// descriptor is a credential of allowCredentials or
	// excludeCredentials; transports is always a list, so that a decoy's
	// and a real passkey's have the same keys.
	descriptor struct {
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Transports []string `json:"transports"`
	}
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func descriptors(ds []protocol.CredentialDescriptor) []descriptor {
	out := make([]descriptor, 0, len(ds))
	for _, d := range ds {
		ts := make([]string, 0, len(d.Transport))
		for _, t := range d.Transport {
			ts = append(ts, string(t))
		}
		out = append(out, descriptor{ID: b64(d.CredentialID), Type: string(d.Type), Transports: ts})
	}
	return out
}

func newAttestationPayload(o *accounts.RegistrationOptions) attestationPayload {
	r := o.Options
	var handle string
	switch id := r.User.ID.(type) {
	case protocol.URLEncodedBase64:
		handle = b64(id)
	case []byte:
		handle = b64(id)
	case string:
		handle = b64([]byte(id))
	}
	att := string(r.Attestation)
	if att == "" {
		att = string(protocol.PreferNoAttestation)
	}
	params := r.Parameters
	if params == nil {
		params = []protocol.CredentialParameter{}
	}
	return attestationPayload{CredentialUUID: o.CredentialUUID, Challenge: b64(r.Challenge),
		RP: rpEntity{ID: r.RelyingParty.ID, Name: r.RelyingParty.Name}, User: userEntity{ID: handle, Name: r.User.Name, DisplayName: r.User.DisplayName},
		PubKeyCredParams: params, ExcludeCredentials: descriptors(r.CredentialExcludeList), AuthenticatorSelection: r.AuthenticatorSelection,
		Attestation: att, Timeout: r.Timeout}
}

func newAssertionPayload(r protocol.PublicKeyCredentialRequestOptions) assertionPayload {
	return assertionPayload{Challenge: b64(r.Challenge), RPID: r.RelyingPartyID, AllowCredentials: descriptors(r.AllowedCredentials),
		Timeout: r.Timeout, UserVerification: string(r.UserVerification)}
}

// decode reads the base64url value of field name (padding tolerated); an
// empty value is an error unless optional. On failure it has answered.
func decode(c *gin.Context, name, value string, optional bool) ([]byte, bool) {
	if value == "" {
		if optional {
			return nil, true
		}
		badParameter(c, name+" is required.")
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
	if err != nil {
		badParameter(c, name+" is not base64url (the URL-safe alphabet, without padding).")
		return nil, false
	}
	return b, true
}

// checkName refuses a username that no user can have (blank, longer than
// accounts.MaxTextLength, not text), before a ceremony stores it; on
// failure it has answered.
func checkName(c *gin.Context, field, name string) bool {
	switch {
	case strings.TrimSpace(name) == "":
		badParameter(c, field+" is required.")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		badParameter(c, field+" must be text without control characters.")
	case utf8.RuneCountInString(name) > accounts.MaxTextLength:
		badParameter(c, field+" is longer than 255 characters.")
	default:
		return true
	}
	return false
}

// checkDisplayName refuses a display_name the authenticator could not show
// or the ceremony could not keep; on failure it has answered.
func checkDisplayName(c *gin.Context, name string) bool {
	if name == "" {
		return true
	}
	return checkName(c, "options.display_name", name)
}

// registrationFinish decodes a complete's attestation_payload and checks
// the credential's name before the ceremony is used up; on failure it has
// answered.
func registrationFinish(c *gin.Context, b *fido2Body, purpose string) (accounts.RegistrationFinish, bool) {
	p := b.AttestationPayload
	in := accounts.RegistrationFinish{Purpose: purpose, Username: b.Username, UserID: b.UserID, CredentialUUID: p.CredentialUUID,
		Challenge: strings.TrimRight(p.Challenge, "=")}
	var ok bool
	switch {
	case p.CredentialUUID == "":
		badParameter(c, "attestation_payload.credential_uuid is required: send the one the init answered.")
		return in, false
	case p.Challenge == "":
		badParameter(c, "attestation_payload.challenge is required: send the one the init answered.")
		return in, false
	}
	if in.CredentialID, ok = decode(c, "attestation_payload.credential_id", p.CredentialID, false); !ok {
		return in, false
	}
	if len(in.CredentialID) > maxCredentialID {
		badParameter(c, "attestation_payload.credential_id is longer than WebAuthn's 1023 bytes.")
		return in, false
	}
	if in.ClientDataJSON, ok = decode(c, "attestation_payload.client_data", p.ClientData, false); !ok {
		return in, false
	}
	if in.AttestationObject, ok = decode(c, "attestation_payload.attestation_data", p.AttestationData, false); !ok {
		return in, false
	}
	if name := b.Options.CredentialName; name != "" {
		if _, err := accounts.CheckCredentialName(name); err != nil {
			badParameter(c, "options.credential_name is not a valid credential name: "+reasonOf(err)+".")
			return in, false
		}
		in.Name = name
	}
	return in, true
}

// assertionFinish decodes an authenticator's answer to a sign-in or a
// confirmation; field names the fields in messages. On failure it has
// answered.
func assertionFinish(c *gin.Context, purpose, username string, p assertionAnswer, field func(string) string) (accounts.AssertionFinish, bool) {
	in := accounts.AssertionFinish{Purpose: purpose, Username: username, Challenge: strings.TrimRight(p.Challenge, "=")}
	if p.Challenge == "" {
		badParameter(c, field("challenge")+" is required: send the one the init answered.")
		return in, false
	}
	var ok bool
	for _, f := range []struct {
		name, value string
		dst         *[]byte
		optional    bool
	}{
		{"credential_id", p.CredentialID, &in.CredentialID, false},
		{"client_data", p.ClientData, &in.ClientDataJSON, false},
		{"authenticator_data", p.AuthenticatorData, &in.AuthenticatorData, false},
		{"signature", p.Signature, &in.Signature, false},
		{"user_handle", p.UserHandle, &in.UserHandle, true},
	} {
		if *f.dst, ok = decode(c, field(f.name), f.value, f.optional); !ok {
			return in, false
		}
	}
	if len(in.CredentialID) > maxCredentialID {
		badParameter(c, field("credential_id")+" is longer than WebAuthn's 1023 bytes.")
		return in, false
	}
	return in, true
}

// ceremonyFailed answers a failed finish of a ceremony: a refusal is 401
// unauthorized with accounts' one sentence (never the library's cause,
// which goes to the log at debug).
// keepRefusal lets a transaction commit what it wrote before a ceremony
// was refused in it (the ceremony, used up) and keeps the refusal in
// *refusal to answer after; any other error rolls the transaction back.
func keepRefusal(err error, refusal *error) error {
	var pe *accounts.PasskeyError
	if errors.As(err, &pe) {
		*refusal = err
		return nil
	}
	return err
}

func (h *handler) ceremonyFailed(c *gin.Context, err error) {
	var pe *accounts.PasskeyError
	switch {
	case errors.As(err, &pe):
		h.log.Debug("LoginID passkey ceremony refused", "route", c.FullPath(), "reason", pe.Reason, "cause", pe.Cause)
		unauthorized(c, pe.Reason)
	case errors.Is(err, accounts.ErrInvalidUser):
		badParameter(c, validationMessage(err))
	case errors.Is(err, accounts.ErrInvalidCredentialName):
		badParameter(c, "options.credential_name is not a valid credential name: "+reasonOf(err)+".")
	case surface.IsUnavailable(err):
		h.fail(c, err)
	default:
		h.fail(c, dbError("finish the passkey ceremony", err))
	}
}

// tokenNamesOther reports whether the caller's service token names a user
// other than the one called username — reading the user when the token
// names one by user_id. On failure it has answered (an unknown user is
// then the token's mismatch, not a 404: init routes never tell who
// exists).
func (h *handler) tokenNamesOther(c *gin.Context, cl *caller, a *actor, username string) bool {
	if cl.namesOther(username, "") {
		forbidden(c, errOtherUser)
		return true
	}
	if cl.token == nil || cl.token.UserID == "" {
		return false
	}
	u, err := h.users.GetByUsername(c.Request.Context(), a.realm.ID, username)
	switch {
	case errors.Is(err, accounts.ErrNotFound), errors.Is(err, accounts.ErrInvalidUser):
		forbidden(c, errOtherUser)
	case err != nil:
		h.fail(c, dbError("read the user", err))
	case cl.userMismatch(u):
		forbidden(c, errOtherUser)
	default:
		return false
	}
	return true
}
