package grants

import (
	"context"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/core"
)

// issuer is the part of the core that every grant's last step uses: the
// lifetimes of a prepared session and the one issuance of its tokens.
type issuer interface {
	SetLifetimes(sess fosite.Session, cl *core.Client, grant fosite.GrantType, withRefresh bool)
	IssueTokens(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder, withRefresh bool) error
}
