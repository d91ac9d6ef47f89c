package surface

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// Surface is one door onto the core. The server builds its whole router per
// config snapshot, so a reload that enables a surface, switches it off or
// moves its prefix applies to the next request.
type Surface interface {
	// Name names the surface in logs and errors ("workapi", …).
	Name() string
	// Prefix reports whether snap enables the surface and the path prefix
	// its routes go under ("" is the root).
	Prefix(snap *config.Snapshot) (prefix string, enabled bool)
	// Mount registers the surface's routes on r, already under the prefix,
	// for the snapshot of env.Core.
	Mount(r gin.IRouter, env Env)
}

// Env is what a surface is built from for one snapshot: the core of that
// snapshot (a surface keeps only the narrow interface of the operations it
// calls), the process's accounts service, and the logger.
type Env struct {
	Core     *core.Core
	Accounts *accounts.Service
	Logger   *slog.Logger
}
