package core_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/grants"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// world is one core on a real SQLite store, with one user.
type world struct {
	core     *core.Core
	store    *storage.Store
	accounts *accounts.Service
	client   *core.Client
	userID   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	key, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := config.EncodePrivateKeyPEM(key)
	yaml := fmt.Sprintf(`
issuer: http://issuer.test
signing_keys:
  - {kid: k1, alg: ES256, pem: "%s"}
realms:
  - {id: rl_core, name: Core}
clients:
  - id: app
    realm: rl_core
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile, email]
`, strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`))
	snap, err := config.Parse("core.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	store := storagetest.OpenSQLite(t)
	acc := accounts.New(store, accounts.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	acc.SetPolicy(snap.Passwords)
	cr, err := core.New(snap, core.Deps{Store: store, Accounts: acc}, grants.NewRefresh)
	if err != nil {
		t.Fatal(err)
	}
	u, err := acc.Create(t.Context(), snap.Realm("rl_core"), accounts.NewUser{Username: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	return &world{core: cr, store: store, accounts: acc, client: cr.Client("app"), userID: u.ID}
}

func (w *world) issue(t *testing.T, withRefresh bool) *core.Issued {
	t.Helper()
	is, err := w.core.Issue(t.Context(), core.IssueRequest{Client: w.client, UserID: w.userID, Realm: "rl_core", Username: "carol", WithRefresh: withRefresh})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// Nothing signs a token inside a database transaction: Prepare, Issue and
// Refresh refuse to run in one.
func TestSigningRefusedInsideTransaction(t *testing.T) {
	w := newWorld(t)
	err := w.core.Atomically(t.Context(), func(ctx context.Context) error {
		if _, err := w.core.Prepare(ctx, core.IssueRequest{Client: w.client, UserID: w.userID, Realm: "rl_core"}); !errors.Is(err, core.ErrInTransaction) {
			t.Errorf("Prepare in a transaction: %v, want ErrInTransaction", err)
		}
		if _, err := w.core.Refresh(ctx, core.RefreshRequest{Client: w.client, RefreshToken: "lk_rt_x"}); !errors.Is(err, core.ErrInTransaction) {
			t.Errorf("Refresh in a transaction: %v, want ErrInTransaction", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Prepare signs outside; Save stores in the caller's transaction, so a
// rolled-back transaction leaves no token.
func TestPendingSaveJoinsTheTransaction(t *testing.T) {
	w := newWorld(t)
	p, err := w.core.Prepare(t.Context(), core.IssueRequest{Client: w.client, UserID: w.userID, Realm: "rl_core", WithRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	var issued *core.Issued
	rollback := errors.New("roll back")
	err = w.core.Atomically(t.Context(), func(ctx context.Context) error {
		issued, err = p.Save(ctx)
		if err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("transaction: %v", err)
	}
	if _, err := w.core.Authenticate(t.Context(), issued.AccessToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("token of a rolled-back transaction authenticates: %v", err)
	}
}

// The refresh operation a surface calls applies the token endpoint's rules:
// a new pair in the same grant, and reuse of the old token revokes it all.
func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	w := newWorld(t)
	first := w.issue(t, true)
	if first.RefreshToken == "" || first.GrantID == "" {
		t.Fatalf("issued %+v, want a pair with a grant id", first)
	}
	second, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: first.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if second.GrantID != first.GrantID || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh gave %+v after %+v: want a new pair in the same grant", second, first)
	}
	if _, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: first.RefreshToken}); !errors.Is(err, fosite.ErrInvalidGrant) {
		t.Fatalf("reuse of the rotated token: %v, want invalid_grant", err)
	}
	if _, err := w.core.Authenticate(t.Context(), second.AccessToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("the new access token survived reuse detection: %v", err)
	}
	// Narrower scopes only.
	third := w.issue(t, true)
	if _, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: third.RefreshToken, Scopes: []string{"admin"}}); !errors.Is(err, fosite.ErrInvalidScope) {
		t.Errorf("refresh widening the scope: %v, want invalid_scope", err)
	}
	narrow, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: third.RefreshToken, Scopes: []string{"email"}})
	if err != nil || len(narrow.Scopes) != 1 || narrow.Scopes[0] != "email" {
		t.Errorf("refresh narrowing the scope: %+v %v", narrow, err)
	}
}

// Authenticate gives the principal of an active user token, and refuses a
// deactivated user's token and a refresh token presented as a bearer.
func TestAuthenticate(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t, true)
	p, err := w.core.Authenticate(t.Context(), is.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != core.KindUser || p.User == nil || p.User.ID != w.userID || p.Client != w.client || p.GrantID != is.GrantID ||
		!p.HasScope("profile") || p.Realm != "rl_core" || p.Subject() != w.userID {
		t.Errorf("principal %+v", p)
	}
	if p.ExpiresAt.Before(time.Now()) {
		t.Errorf("principal expires at %v", p.ExpiresAt)
	}
	if _, err := w.core.Authenticate(t.Context(), is.RefreshToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("a refresh token as bearer: %v, want ErrUnauthenticated", err)
	}
	if _, err := w.core.Authenticate(t.Context(), "lk_at_unknown"); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("an unknown token: %v, want ErrUnauthenticated", err)
	}
	// Deactivate the user without revoking, as a racing admin might: the
	// token is refused on the user's status alone.
	if err := w.store.SetUserStatus(t.Context(), "rl_core", w.userID, accounts.StatusDeactivated, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.Authenticate(t.Context(), is.AccessToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("a deactivated user's token: %v, want ErrUnauthenticated", err)
	}
}

// RevokeUser ends every grant of a user; RevokeGrant only its own.
func TestRevokeUserAndGrant(t *testing.T) {
	w := newWorld(t)
	a, b := w.issue(t, true), w.issue(t, false)
	if err := w.core.RevokeGrant(t.Context(), a.GrantID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.Authenticate(t.Context(), a.AccessToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("revoked grant's token: %v", err)
	}
	if _, err := w.core.Authenticate(t.Context(), b.AccessToken); err != nil {
		t.Errorf("another grant's token after RevokeGrant: %v", err)
	}
	if err := w.core.RevokeUser(t.Context(), w.userID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.Authenticate(t.Context(), b.AccessToken); !errors.Is(err, core.ErrUnauthenticated) {
		t.Errorf("token after RevokeUser: %v", err)
	}
}

// A storage failure is ErrUnavailable, never "not authenticated".
func TestAuthenticateDuringOutage(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t, false)
	if err := w.store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.Authenticate(t.Context(), is.AccessToken); !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("Authenticate with the database closed: %v, want ErrUnavailable", err)
	}
	if _, err := w.core.Introspect(t.Context(), w.client, is.AccessToken, ""); !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("Introspect with the database closed: %v, want ErrUnavailable", err)
	}
}

// A surface may ask for LoginID's "udata" claim; it is in the JWT, kept
// across a refresh, and absent from other tokens.
func TestUDataClaim(t *testing.T) {
	w := newWorld(t)
	claims := func(tok string) map[string]any {
		t.Helper()
		parts := strings.Split(tok, ".")
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if _, ok := claims(w.issue(t, false).AccessToken)["udata"]; ok {
		t.Error("udata in a token that did not ask for it")
	}
	name := "carol"
	is, err := w.core.Issue(t.Context(), core.IssueRequest{Client: w.client, UserID: w.userID, Realm: "rl_core", UData: &name, WithRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := claims(is.AccessToken)["udata"]; got != "carol" {
		t.Errorf("udata = %v, want carol", got)
	}
	next, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: is.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if got := claims(next.AccessToken)["udata"]; got != "carol" {
		t.Errorf("udata after refresh = %v, want carol", got)
	}
}

// A refresh that names a grant refuses another grant's token before it
// writes anything: the token's owner can still refresh.
func TestRefreshOfTheNamedGrant(t *testing.T) {
	w := newWorld(t)
	a, b := w.issue(t, true), w.issue(t, true)
	if _, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: b.RefreshToken, GrantID: a.GrantID}); !errors.Is(err, core.ErrGrantMismatch) {
		t.Fatalf("b's token under a's grant: %v, want ErrGrantMismatch", err)
	}
	next, err := w.core.Refresh(t.Context(), core.RefreshRequest{Client: w.client, RefreshToken: b.RefreshToken, GrantID: b.GrantID})
	if err != nil || next.GrantID != b.GrantID {
		t.Fatalf("b's own refresh after the refusal: %+v %v", next, err)
	}
}
